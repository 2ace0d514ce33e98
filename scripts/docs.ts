// Rewrites the CLI reference in README.md from the option definitions (src/cli/options.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withReference } from '../src/cli/reference';

const readmePath = path.resolve(__dirname, '..', '..', 'README.md');
const before = fs.readFileSync(readmePath, 'utf8');
const after = withReference(before);
if (after !== before) {
  fs.writeFileSync(`${readmePath}.tmp`, after);
  fs.renameSync(`${readmePath}.tmp`, readmePath);
}
process.stdout.write(after === before ? 'README.md is up to date\n' : 'README.md updated\n');
