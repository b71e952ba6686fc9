#!/usr/bin/env node
// The CLI. `npm run build` also writes dist/cli.cjs (scripts/bundle-cli.js: @oclif/core and the
// command classes in one file) and dist/cli.cache (V8's code cache for it), so node neither
// resolves ~160 modules nor compiles 1 MB of JavaScript at every start. They are used only while
// the bundle is newer than every file it was built from (dist/cli.inputs.json); after a bare
// `tsc` or `oclif manifest`, or with PROXYCTL_NO_BUNDLE=1, the normal oclif path runs.
import { createRequire } from 'node:module';

// require(), not import: an ESM import of node:fs builds its facade, which loads fs streams (~5 ms).
const require = createRequire(import.meta.url);
const { accessSync, constants, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { fileURLToPath } = require('node:url');
const vm = require('node:vm');

const distUrl = new URL('../dist/', import.meta.url);
const dist = fileURLToPath(distUrl);
const bundle = `${dist}cli.cjs`;
const codeCache = `${dist}cli.cache`;

function bundleIsFresh() {
  // the bundle require()s our ES modules in dist/src: Node 20.19 and later
  if (process.env.PROXYCTL_NO_BUNDLE || !process.features.require_module) return false;
  try {
    const built = statSync(bundle).mtimeMs;
    const { inputs, optional = [] } = JSON.parse(readFileSync(`${dist}cli.inputs.json`, 'utf8'));
    const notNewer = (file) => statSync(`${dist}../${file}`).mtimeMs <= built;
    const notNewerIfThere = (file) => statSync(`${dist}../${file}`, { throwIfNoEntry: false }) === undefined || notNewer(file);
    return inputs.every(notNewer) && optional.every(notNewerIfThere);
  } catch {
    return false; // no bundle, or an input is gone
  }
}

/**
 * Loads the bundle as require() would, but compiled with its code cache (Node 20 has no
 * module.enableCompileCache). A start without a usable cache (the first after a build, or V8
 * refused it: another node binary) writes one at exit, taken after the command ran so that it
 * holds every function compiled on the way.
 */
function loadBundle() {
  const { Module } = require('node:module');
  let cachedData;
  if (statSync(codeCache, { throwIfNoEntry: false })?.mtimeMs >= statSync(bundle).mtimeMs) cachedData = readFileSync(codeCache);
  const source = readFileSync(bundle, 'utf8');
  // Without an import() loader for vm scripts on Node 20, the bundle's import()s come here (see scripts/bundle-cli.js).
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __pxcImport) {${source}\n})`, { filename: bundle, cachedData });
  const importFromBundle = (specifier) => import(specifier.startsWith('./') ? new URL(specifier, distUrl).href : specifier);
  const module = new Module(bundle);
  module.filename = bundle;
  require.cache[bundle] = module; // oclif imports the bundle by its path for the commands: this same module
  script.runInThisContext().call(module.exports, module.exports, createRequire(bundle), module, bundle, dist, importFromBundle);
  module.loaded = true;
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCodeCache(script));
  return module.exports;
}

/** Best effort, atomic (CLIs may run side by side); nothing in a read-only install: the next start compiles again. */
function writeCodeCache(script) {
  const tmp = `${codeCache}.${process.pid}`;
  try {
    accessSync(dist, constants.W_OK);
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, codeCache);
  } catch {
    rmSync(tmp, { force: true });
  }
}

// `proxyctl --socket X agent status`: global flags before the command move after it (src/cli/argv.ts).
if (process.argv[2]?.startsWith('--s')) {
  const { hoistGlobalFlags } = await import('../dist/src/cli/argv.js');
  process.argv.splice(2, Infinity, ...hoistGlobalFlags(process.argv.slice(2)));
}

if (bundleIsFresh()) {
  await loadBundle().main();
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
