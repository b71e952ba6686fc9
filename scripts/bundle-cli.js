#!/usr/bin/env node
/**
 * Bundles the CLI for a fast start: @oclif/core, every command class of dist/commands and
 * the hooks of package.json become ONE ESM file, dist/cli.js, so node compiles one file
 * instead of ~160 CommonJS modules. bin/run.js loads it only while it is fresh (see
 * dist/cli.inputs.json); otherwise it takes the normal oclif path from node_modules.
 *
 * Inside the bundle oclif runs exactly as it would from node_modules, with the root plugin
 * using the "explicit" command discovery strategy whose target is the bundle itself (the
 * COMMANDS export), so there is one copy of @oclif/core and of every command class.
 * Dynamic imports of our own code (e.g. `agent start` importing the agent) stay imports of
 * dist/, so the agent is neither bundled nor loaded by client commands.
 *
 * Run after tsc and `oclif manifest` (npm run build does).
 */
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const out = join(dist, 'cli.js');
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// @oclif/core checks at load time that node satisfies its engines (with semver: ~10 ms); the bundle
// does the same check without semver, so it knows the range as a plain major version.
const coreEngines = JSON.parse(readFileSync(join(root, 'node_modules/@oclif/core/package.json'), 'utf8')).engines.node;
const coreMinNode = /^>=(\d+)(\.0){0,2}$/.exec(coreEngines)?.[1];
if (!coreMinNode) throw new Error(`bundle-cli: @oclif/core now requires node ${coreEngines}: teach the bundle's engine check that range`);

if (typeof pjson.oclif.commands !== 'string') throw new Error('bundle-cli: expects oclif.commands to be a directory (pattern strategy)');
const commandsDir = resolve(root, pjson.oclif.commands);

/** Command ids exactly as oclif's pattern strategy derives them from file paths. */
function commandFiles(dir, prefix = []) {
  const found = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory()) found.push(...commandFiles(join(dir, e.name), [...prefix, e.name]));
    else if (/\.(js|mjs|cjs)$/.test(e.name)) {
      const name = e.name.replace(/\.(js|mjs|cjs)$/, '');
      found.push({ file: join(dir, e.name), id: [...prefix, ...(name === 'index' ? [] : [name])].join(':') });
    }
  }
  return found;
}

const spec = (file) => './' + relative(dist, file).split(sep).join('/');
const commands = commandFiles(commandsDir);
const hooks = Object.entries(pjson.oclif.hooks ?? {}).flatMap(([event, targets]) =>
  [targets].flat().map((t, i) => {
    const target = typeof t === 'string' ? t : t.target;
    const identifier = typeof t === 'string' ? 'default' : (t.identifier ?? 'default');
    return { event, file: resolve(root, target), identifier, name: `HOOK_${event.replace(/\W/g, '_')}_${i}` };
  }),
);

const entry = [
  `import { execute } from '@oclif/core';`,
  `import { readFileSync } from 'node:fs';`,
  `import { join } from 'node:path';`,
  `import { fileURLToPath } from 'node:url';`,
  ...hooks.map((h, i) => `import * as H${i} from ${JSON.stringify(spec(h.file))};`),
  // the class a command module exports, found like oclif's pattern strategy does
  `const pick = (m) => typeof m.default?.run === 'function' ? m.default : Object.values(m).find((c) => typeof c?.run === 'function');`,
  // Each command module (and what it imports, node built-ins included) is initialised on first
  // access only: oclif reads COMMANDS[id] for the one command it runs (the manifest lists them all).
  `const lazy = (load) => ({ enumerable: true, get: () => pick(load()) });`,
  `export const COMMANDS = Object.defineProperties({}, {`,
  ...commands.map((c) => `  ${JSON.stringify(c.id)}: lazy(() => require(${JSON.stringify(spec(c.file))})),`),
  `});`,
  ...hooks.map((h, i) => `export const ${h.name} = H${i}[${JSON.stringify(h.identifier)}];`),
  `const HOOKS = ${JSON.stringify(hooks.map(({ event, name }) => ({ event, name })))};`,
  // oclif's own check of the node version (semver) was skipped while it loaded (see the banner); the same check, without semver
  `if (__pxcEngineWarning === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING; else process.env.OCLIF_DISABLE_ENGINE_WARNING = __pxcEngineWarning;`,
  `if (!['1', 'true'].includes(String(__pxcEngineWarning).toLowerCase()) && Number(process.versions.node.split('.')[0]) < ${coreMinNode}) process.emitWarning(${JSON.stringify(`Node version must be ${coreEngines} to use this CLI. Current node version: `)} + process.versions.node);`,
  `/** Runs the CLI like \`execute({dir})\` does, with commands and hooks taken from this bundle. */`,
  `export async function main() {`,
  `  const root = fileURLToPath(new URL('..', import.meta.url));`,
  `  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));`,
  `  const self = './' + ${JSON.stringify(relative(root, out).split(sep).join('/'))};`,
  `  const hooks = {};`,
  `  for (const { event, name } of HOOKS) (hooks[event] ??= []).push({ target: self, identifier: name });`,
  `  pjson.oclif = { ...pjson.oclif, commands: { strategy: 'explicit', target: self, identifier: 'COMMANDS' }, hooks };`,
  `  return execute({ loadOptions: { root, pjson } });`,
  `}`,
].join('\n');

/**
 * Modules imported from dist/ by the bundle instead of being copied into it, because the lazily
 * imported code (the agent, the data proxy) shares their identity: `err instanceof ProxyctlError`
 * in a command must hold for an error thrown by the agent code.
 */
const SHARED = [join(dist, 'src', 'errors.js')];

/**
 * Our own dynamic import()s stay lazy and out of the bundle: a relative one becomes an import of
 * the file in dist/ (relative to the bundle), a package one stays an import of node_modules.
 */
const lazyImportsStayOut = {
  name: 'lazy-imports-stay-out',
  setup(b) {
    b.onResolve({ filter: /.*/, namespace: 'file' }, (args) => {
      if (args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
      const relativeFile = /^\.\.?\//.test(args.path) ? resolve(args.resolveDir, args.path) : null;
      if (args.kind === 'dynamic-import') return { path: relativeFile ? spec(relativeFile) : args.path, external: true };
      if (relativeFile && SHARED.includes(relativeFile)) return { path: spec(relativeFile), external: true };
      return undefined;
    });
  },
};

/**
 * A node built-in is loaded when the module importing it is first used (e.g. node:http by the
 * notes commands only), not up front as the static imports of an ESM bundle would be.
 */
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const names = builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|');
    b.onResolve({ filter: new RegExp(`^(node:.*|${names})$`) }, (args) => {
      if (args.namespace === 'lazy-builtin') return { path: args.path, external: true }; // the require() inside the wrapper
      if (args.resolveDir === dist && args.importer === '') return undefined; // the entry's own imports
      return { path: args.path, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

/** CommonJS files of node_modules that use __dirname/__filename get their own, relative to the bundle. */
const keepDirname = {
  name: 'keep-dirname',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
      const rel = (p) => JSON.stringify(relative(dist, p).split(sep).join('/'));
      return {
        contents: `var __filename = __pxcPath(${rel(args.path)}), __dirname = __pxcPath(${rel(dirname(args.path))});\n${source}`,
        loader: 'js',
      };
    });
  },
};

const result = await build({
  stdin: { contents: entry, resolveDir: dist, sourcefile: 'cli-entry.js', loader: 'js' },
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  write: false,
  outfile: out,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
  keepNames: true,
  banner: {
    js: [
      '// Generated by scripts/bundle-cli.js from dist/ and node_modules: do not edit.',
      "import { createRequire as __pxcCreateRequire } from 'node:module';",
      'const require = __pxcCreateRequire(import.meta.url);',
      'const __pxcPath = (p) => require("node:path").join(require("node:url").fileURLToPath(new URL(".", import.meta.url)), p);',
      // lets @oclif/core skip its semver check of the node version while it loads; the entry restores the variable and checks
      'const __pxcEngineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING;',
      'process.env.OCLIF_DISABLE_ENGINE_WARNING = "1";',
    ].join('\n'),
  },
  // oclif's tsconfig reader require()s typescript only when it looks for TypeScript sources: never bundled.
  external: ['typescript'],
  plugins: [lazyImportsStayOut, lazyBuiltins, keepDirname],
});

// Inputs whose change makes the bundle stale: our own files (checked by bin/run.js at every start),
// plus package.json, the manifest and npm's record of node_modules.
const inputs = Object.keys(result.metafile.inputs)
  .filter((p) => !/^[\w-]+:/.test(p) && !p.includes('node_modules/') && p !== 'dist/cli-entry.js')
  .map((p) => relative(root, resolve(root, p)).split(sep).join('/'));
inputs.push('package.json', 'oclif.manifest.json', 'scripts/bundle-cli.js');
// npm rewrites it on every install; absent where the package is installed as a dependency (its node_modules are elsewhere)
const optional = ['node_modules/.package-lock.json'];

// Atomic writes: a CLI started meanwhile sees the old pair or the new one (the inputs first: an old bundle beside new inputs is stale).
const put = (file, data) => {
  writeFileSync(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
};
put(join(dist, 'cli.inputs.json'), JSON.stringify({ inputs, optional }, null, 1) + '\n');
put(out, result.outputFiles[0].contents);
