#!/usr/bin/env node
/**
 * Bundles the CLI for a fast start: @oclif/core, the other packages the commands use and the
 * command classes of dist/commands become ONE CommonJS file, dist/cli.cjs, so node reads and
 * compiles one file instead of ~160 modules; dist/cli.cache holds V8's code cache for it.
 * bin/run.js loads the pair only while it is fresh (dist/cli.inputs.json); otherwise it takes
 * the normal oclif path from node_modules.
 *
 * Only node_modules and what sits on oclif (the command classes and src/cli, their base classes
 * and hooks) are copied in. The rest of our code under dist/src stays outside: an import of it
 * becomes a require() of the file in dist/ (require(esm)),
 * run when that command is first loaded. So there is one copy of every class of ours
 * (`err instanceof ProxyctlError` holds for an error thrown by the agent's code), and a
 * client command never loads the agent.
 *
 * The command list is the one package.json declares (oclif's explicit strategy,
 * commands/index.ts); the bundle serves it lazily: only the command that runs is initialised.
 *
 * Run after tsc and `oclif manifest` (npm run build does).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const out = join(dist, 'cli.cjs');
const cache = join(dist, 'cli.cache');
const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const discovery = pjson.oclif.commands;
if (discovery?.strategy !== 'explicit') throw new Error('bundle-cli: expects oclif.commands to declare the explicit strategy');

const posix = (p) => p.split(sep).join('/');
const spec = (file) => './' + posix(relative(dist, file));

/** The file of each command class: the declared list, matched to the files that export the classes. */
async function commandFiles() {
  const target = resolve(root, discovery.target);
  const declared = (await import(pathToFileURL(target).href))[discovery.identifier ?? 'default'];
  const fileOf = new Map();
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js') && p !== target) fileOf.set(p, null);
    }
  };
  walk(resolve(target, '..'));
  for (const file of fileOf.keys()) fileOf.set(file, (await import(pathToFileURL(file).href)).default);
  const byClass = new Map([...fileOf].map(([file, cls]) => [cls, file]));
  const commands = Object.entries(declared).map(([id, cls]) => {
    const file = byClass.get(cls);
    if (!file) throw new Error(`bundle-cli: command ${id} is not the default export of a file beside ${discovery.target}`);
    return { id, file };
  });
  const listed = new Set(commands.map((c) => c.file));
  const unlisted = [...fileOf.keys()].filter((f) => !listed.has(f)).map((f) => relative(root, f));
  if (unlisted.length) throw new Error(`bundle-cli: not in ${discovery.target} ${discovery.identifier}: ${unlisted.join(', ')}`);
  return commands;
}

const commands = await commandFiles();
// package.json's hooks (src/cli/hooks, on oclif too) are served from the bundle as well.
const hooks = Object.entries(pjson.oclif.hooks ?? {}).flatMap(([event, targets]) =>
  [targets].flat().map((t, i) => ({
    event,
    file: resolve(root, typeof t === 'string' ? t : t.target),
    identifier: typeof t === 'string' ? 'default' : (t.identifier ?? 'default'),
    name: `HOOK_${event.replace(/\W/g, '_')}_${i}`,
  })),
);
const self = './' + posix(relative(root, out));
const entry = [
  `const { execute } = require('@oclif/core');`,
  `const { readFileSync } = require('node:fs');`,
  `const { join } = require('node:path');`,
  // Each command module (and what it requires) is initialised on first access only: oclif reads
  // COMMANDS[id] for the one command it runs (the manifest lists them all).
  `const lazy = (load) => ({ enumerable: true, get: () => load().default });`,
  `exports.COMMANDS = Object.defineProperties({}, {`,
  ...commands.map((c) => `  ${JSON.stringify(c.id)}: lazy(() => require(${JSON.stringify(spec(c.file))})),`),
  `});`,
  // hooks too: command_not_found's module needs the control client, which a command that runs may not
  ...hooks.map((h) => `Object.defineProperty(exports, ${JSON.stringify(h.name)}, { enumerable: true, get: () => require(${JSON.stringify(spec(h.file))})[${JSON.stringify(h.identifier)}] });`),
  `/** Runs the CLI like \`execute({dir})\` does, with commands and hooks taken from this bundle. */`,
  `exports.main = function main() {`,
  `  const root = join(__dirname, '..');`,
  `  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));`,
  `  const hooks = {};`,
  `  for (const { event, name } of ${JSON.stringify(hooks.map(({ event, name }) => ({ event, name })))}) (hooks[event] ??= []).push({ target: ${JSON.stringify(self)}, identifier: name });`,
  `  pjson.oclif = { ...pjson.oclif, commands: { strategy: 'explicit', target: ${JSON.stringify(self)}, identifier: 'COMMANDS' }, hooks };`,
  `  return execute({ loadOptions: { root, pjson } });`,
  `};`,
].join('\n');

/**
 * What sits on oclif (the commands and src/cli, their base classes) is bundled with it: one copy
 * of @oclif/core. The rest of our code stays out: required from its file in dist/, relative to the bundle.
 */
const bundled = [join(dist, 'commands') + sep, join(dist, 'src', 'cli') + sep];
const ownCodeStaysOut = {
  name: 'own-code-stays-out',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\//, namespace: 'file' }, (args) => {
      if (args.importer === '' || args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
      const file = resolve(args.resolveDir, args.path);
      return bundled.some((dir) => file.startsWith(dir)) ? undefined : { path: spec(file), external: true };
    });
  },
};

/**
 * Two rewrites of the bundled source, each checked so that a new oclif that no longer matches
 * fails the build instead of silently changing behaviour:
 * - bin/run.js compiles the bundle with vm.Script (for the code cache), where import() has no
 *   loader on Node 20 without an experimental flag. So every import() that stays one goes through
 *   __pxcImport, which bin/run.js hands in: import() of its own module, a specifier relative to the
 *   bundle resolved against dist/. Ours are string literals, rewritten relative to the bundle;
 *   oclif's computed ones (module-loader and friends) take absolute file URLs.
 * - oclif sorts the manifest's command ids with localeCompare at every start; creating the ICU
 *   collator that needs costs more (~70 M instructions) than the rest of the sort and load. On ids
 *   (lower-case ASCII, digits, '-' and ':') code-unit order is the collation order.
 */
const DYNAMIC_IMPORT = /\bimport\((?!\))/; // not global: .test() must not keep a lastIndex between files
const LITERAL_IMPORT = /\bimport\((['"])([^'"]+)\1\)/g;
// A package's import() of a computed specifier (oclif's module loader: file URLs). Its import()s
// of a package by name (oclif's `import('wsl-utils')` in Config.load: six ES modules resolved and
// compiled at every start) are left to esbuild, which bundles them.
const COMPUTED_IMPORT = /\bimport\((?!\)|['"])/; // not global either
const COLLATED_SORT = { file: `${sep}@oclif${sep}core${sep}lib${sep}config${sep}plugin.js`, text: '.sort((a, b) => a.id.localeCompare(b.id))' };
const rewrites = {
  name: 'rewrites',
  setup(b) {
    b.onLoad({ filter: /\.c?js$/ }, (args) => {
      let source = readFileSync(args.path, 'utf8');
      const where = relative(root, args.path);
      const before = source;
      if (args.path.endsWith(COLLATED_SORT.file)) {
        if (source.split(COLLATED_SORT.text).length !== 2) throw new Error(`bundle-cli: ${where} no longer sorts command ids as expected: review the rewrite`);
        source = source.replace(COLLATED_SORT.text, '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))');
      }
      if (DYNAMIC_IMPORT.test(source)) {
        const ofPackage = args.path.includes(`${sep}node_modules${sep}`);
        source = ofPackage
          ? source.replace(new RegExp(COMPUTED_IMPORT, 'g'), '__pxcImport(')
          : source.replace(LITERAL_IMPORT, (_, q, path) => `__pxcImport(${JSON.stringify(/^\.\.?\//.test(path) ? spec(resolve(args.path, '..', path)) : path)})`);
        if (!ofPackage && DYNAMIC_IMPORT.test(source)) throw new Error(`bundle-cli: ${where}: an import() whose specifier is not a string literal`);
      }
      return source === before ? undefined : { contents: source, loader: 'js' };
    });
  },
};

const result = await build({
  stdin: { contents: entry, resolveDir: dist, sourcefile: 'cli-entry.js', loader: 'js' },
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  write: false,
  outfile: out,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
  // A third fewer bytes to read and decode at every start (~10 ms); identifiers stay, so a stack
  // trace still names the source's functions, and keepNames keeps .name on renamed classes.
  keepNames: true,
  minifyWhitespace: true,
  minifySyntax: true,
  banner: { js: '// Generated by scripts/bundle-cli.js from dist/commands and node_modules: do not edit.' },
  // oclif's tsconfig reader require()s typescript only when it looks for TypeScript sources: never bundled.
  external: ['typescript'],
  plugins: [ownCodeStaysOut, rewrites],
});

// Inputs whose change makes the bundle stale, checked by bin/run.js at every start: the command
// files, package.json, the manifest; plus npm's record of node_modules.
const inputs = Object.keys(result.metafile.inputs)
  .filter((p) => !/^[\w-]+:/.test(p) && !p.includes('node_modules/') && p !== 'dist/cli-entry.js')
  .map((p) => posix(relative(root, resolve(root, p))));
inputs.push('package.json', 'oclif.manifest.json', 'scripts/bundle-cli.js');
// npm rewrites it on every install; absent where the package is installed as a dependency (its node_modules are elsewhere)
const optional = ['node_modules/.package-lock.json'];

// Atomic writes: a CLI started meanwhile sees the old pair or the new one (the inputs first: an old bundle beside new inputs is stale).
const put = (file, data) => {
  writeFileSync(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
};
rmSync(cache, { force: true });
put(join(dist, 'cli.inputs.json'), JSON.stringify({ inputs, optional }, null, 1) + '\n');
put(out, result.outputFiles[0].contents);

// V8's code cache of the bundle: the first start without one writes it (bin/run.js). Best effort:
// without it the bundle is compiled as any file is.
const warm = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), 'agent', 'status', '--socket', join(dist, 'no-agent.sock')], {
  env: { ...process.env, PROXYCTL_NO_BUNDLE: '' },
  stdio: 'ignore',
});
if (warm.error) console.warn(`bundle-cli: no code cache: ${warm.error.message}`);
