#!/usr/bin/env node
// The CLI. `npm run build` also writes dist/cli.js (scripts/bundle-cli.js): @oclif/core and the
// commands in one file, so node compiles one file instead of ~160 modules at every start. It is
// used only while it is newer than every file it was built from (dist/cli.inputs.json); after a
// bare `tsc` or `oclif manifest`, or with PROXYCTL_NO_BUNDLE=1, the normal oclif path runs.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function bundleIsFresh() {
  if (process.env.PROXYCTL_NO_BUNDLE) return false;
  try {
    const built = statSync(`${root}dist/cli.js`).mtimeMs;
    const { inputs, optional = [] } = JSON.parse(readFileSync(`${root}dist/cli.inputs.json`, 'utf8'));
    const notNewer = (file) => statSync(root + file).mtimeMs <= built;
    const notNewerIfThere = (file) => statSync(root + file, { throwIfNoEntry: false }) === undefined || notNewer(file);
    return inputs.every(notNewer) && optional.every(notNewerIfThere);
  } catch {
    return false; // no bundle, or an input is gone
  }
}

// `proxyctl --socket X agent status`: global flags before the command move after it (src/cli/argv.ts).
if (process.argv[2]?.startsWith('--s')) {
  const { hoistGlobalFlags } = await import('../dist/src/cli/argv.js');
  process.argv.splice(2, Infinity, ...hoistGlobalFlags(process.argv.slice(2)));
}

if (bundleIsFresh()) {
  const { main } = await import('../dist/cli.js');
  await main();
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
