#!/usr/bin/env node
// The CLI. While dist/cli.js (one bundle of @oclif/core and the commands, built by
// scripts/bundle-cli.js in `npm run build`) is newer than every file it was built from,
// it runs from there: one file to compile instead of ~160 modules. Otherwise (e.g. after a
// bare `tsc`) it takes the normal oclif path from dist/ and node_modules.
import { readFileSync, statSync } from 'node:fs';

const root = new URL('..', import.meta.url);

function bundleIsFresh() {
  if (process.env.PROXYCTL_NO_BUNDLE) return false;
  try {
    const built = statSync(new URL('dist/cli.js', root)).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(new URL('dist/cli.inputs.json', root), 'utf8'));
    return inputs.every((file) => statSync(new URL(file, root)).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (bundleIsFresh()) {
  const { main } = await import('../dist/cli.js');
  await main();
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
