// The README's CLI reference is the one generated from the option definitions.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { withReference } from '../../src/cli/reference';

it('README.md holds the current CLI reference (npm run docs rewrites it)', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  assert.equal(readme, withReference(readme));
});
