#!/usr/bin/env node
// `npm start` on a fresh clone: build once (tsc + oclif manifest) when dist/ is missing or older than the sources.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const manifest = join(root, 'oclif.manifest.json');
const stale = !existsSync(manifest) || !existsSync(join(root, 'dist')) ||
  Math.max(newest(join(root, 'src')), newest(join(root, 'commands')), statSync(join(root, 'package.json')).mtimeMs) > statSync(manifest).mtimeMs;
if (stale) {
  process.stderr.write('proxyctl: building (tsc + oclif manifest)…\n');
  execSync('npm run build --silent', { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}
