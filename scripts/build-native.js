#!/usr/bin/env node
/**
 * Builds the native engine (native/, binding.gyp). Run by `npm ci` (the
 * package's install script) and by `npm run build:native`.
 *
 *   node scripts/build-native.js           node-gyp rebuild → build/Release/proxyctl_engine.node
 *   node scripts/build-native.js --asan    clang, ASan + UBSan → build/asan/proxyctl_engine.node
 *                                          (run with PROXYCTL_NATIVE_ADDON pointing at it and the
 *                                          ASan runtime preloaded: see .ci/run)
 *   node scripts/build-native.js --fuzz    libFuzzer target of the C++ Foo scanner → build/fuzz/foo_scanner
 *
 * A failed default build does not fail the install: the agent then runs the
 * node engine and says why (forward.engine auto), or refuses to start with
 * forward.engine native. PROXYCTL_REQUIRE_NATIVE=1 makes it fatal.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv.includes('--asan') ? 'asan' : process.argv.includes('--fuzz') ? 'fuzz' : 'release';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

/** npm's own node-gyp (npm sets npm_config_node_gyp in scripts), else the one beside this node. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  return candidates.find((p) => p && existsSync(p));
}

/** Headers of the running node (the Debian package installs them under /usr/include/node). */
function nodeInclude() {
  const dirs = [join(process.env.npm_config_nodedir ?? '', 'include', 'node'), join(dirname(process.execPath), '..', 'include', 'node')];
  return dirs.find((d) => existsSync(join(d, 'node_api.h')));
}

const addonApi = createRequire(import.meta.url)('node-addon-api').include_dir;

if (mode === 'release') {
  const gyp = nodeGyp();
  const ok = gyp !== undefined && run(process.execPath, [gyp, 'rebuild', '--release']);
  if (!ok) {
    const why = gyp === undefined ? 'node-gyp not found' : 'node-gyp rebuild failed (see above)';
    if (process.env.PROXYCTL_REQUIRE_NATIVE === '1') {
      console.error(`proxyctl: native engine: ${why}`);
      process.exit(1);
    }
    console.warn(`proxyctl: native engine not built (${why}); the app proxies will use the node engine`);
  }
  process.exit(0);
}

// Sanitizer and fuzz builds: clang directly, debug info, no optimisation that hides bugs.
const include = nodeInclude();
if (!include) {
  console.error('proxyctl: node headers not found (set npm_config_nodedir)');
  process.exit(1);
}
const common = ['-std=c++17', '-g', '-O1', '-fno-omit-frame-pointer', '-fno-exceptions', '-Wall', '-Wno-unused-parameter', `-I${include}`, `-I${addonApi}`, '-DNAPI_VERSION=8', '-DNAPI_DISABLE_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED'];
if (mode === 'asan') {
  const out = join(root, 'build', 'asan');
  mkdirSync(out, { recursive: true });
  const ok = run('clang++', [...common, '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-shared-libsan', '-shared', '-fPIC', 'native/addon.cc', 'native/engine.cc', '-o', join(out, 'proxyctl_engine.node')]);
  if (!ok) process.exit(1);
  console.log(join(out, 'proxyctl_engine.node'));
  console.log(`runtime: ${asanRuntime() ?? '(not found)'}`);
} else {
  const out = join(root, 'build', 'fuzz');
  mkdirSync(out, { recursive: true });
  const ok = run('clang++', ['-std=c++17', '-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined', 'native/fuzz_foo_scanner.cc', '-o', join(out, 'foo_scanner')]);
  if (!ok) process.exit(1);
  console.log(join(out, 'foo_scanner'));
}

/** The shared ASan runtime clang links the addon against: node must preload it. */
function asanRuntime() {
  const base = '/usr/lib/llvm-14/lib/clang';
  if (!existsSync(base)) return null;
  for (const v of readdirSync(base)) {
    const p = join(base, v, 'lib', 'linux', 'libclang_rt.asan-x86_64.so');
    if (existsSync(p)) return p;
  }
  return null;
}
