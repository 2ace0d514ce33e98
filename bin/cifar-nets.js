#!/usr/bin/env node
// The `cifar-nets` command. The TypeScript sources compile to dist/ (npm run build).
'use strict';
const { main } = require('../dist/src/cli/main.js');

main(process.argv).then((status) => {
  // exitCode rather than exit(): stdout may still be draining into a pipe.
  process.exitCode = status;
});
