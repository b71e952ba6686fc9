#!/usr/bin/env node
// Development entry: rebuilds (tsc + manifest) when sources are newer, then runs the CLI.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, ['scripts/build-if-stale.js'], { cwd: root, stdio: 'inherit' });
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
