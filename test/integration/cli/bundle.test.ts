import { spawnSync } from 'node:child_process';
import { ROOT, runCli, type CliResult } from '../../helpers/agent.js';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * bin/run.js runs dist/cli.cjs (scripts/bundle-cli.js: @oclif/core + the commands in one file,
 * compiled with its code cache dist/cli.cache) only while it is newer than every file it was built
 * from; otherwise the normal oclif path. Checked on a copy of the built tree (node_modules linked,
 * bundle rebuilt there), so the shared dist/ is never touched.
 */
let tree: string;
const statusJs = () => join(tree, 'dist/commands/agent/status.js');

/** The copy's CLI, spawned without blocking this process's loop (so runs can overlap). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { bin: join(tree, 'bin/run.js'), env: { COLUMNS: '100', PROXYCTL_SOCKET: '', PROXYCTL_NO_BUNDLE: '', ...env } });
}

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'pxc-bundle-'));
  for (const p of ['bin', 'dist', 'scripts', 'package.json', 'oclif.manifest.json']) {
    cpSync(join(ROOT, p), join(tree, p), { recursive: true, preserveTimestamps: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  // bundled again in the copy, so that a build running meanwhile in the shared tree cannot make it stale
  const b = spawnSync(process.execPath, [join(tree, 'scripts/bundle-cli.js')], { encoding: 'utf8' });
  expect(b.status, b.stderr).toBe(0);
  // A command file that fails when run, older than the bundle: only the normal path would run it.
  const older = new Date(statSync(join(tree, 'dist/cli.cjs')).mtimeMs - 1000);
  writeFileSync(
    statusJs(),
    "import { Command } from '@oclif/core';\nexport default class extends Command { static strict = false; async run() { throw new Error('loaded from dist/commands'); } }\n",
  );
  utimesSync(statusJs(), older, older);
});

afterAll(() => {
  if (tree) rmSync(tree, { recursive: true, force: true });
});

describe('the CLI bundle', () => {
  it('runs commands from the bundle while it is fresh', async () => {
    const r = await cli(['agent', 'status', '--json', '--socket', join(tree, 'no.sock')]);
    expect(r.stderr).not.toContain('loaded from dist/commands');
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).error.code).toBe('PXC_ERR_AGENT_UNREACHABLE');
  });

  it('behaves as the normal oclif path: output and exit codes, plugins and hooks included', async () => {
    const cases = [
      ['--help'],
      ['agent', 'status', '--help'],
      ['help', 'download'],
      ['agent', 'bogus'],
      ['download', 'info'],
      ['agent', 'stop', '--json', '--socket', join(tree, 'no.sock')],
      ['agent', 'start', '--config', join(tree, 'missing.json'), '--state-dir', join(tree, 'state')],
    ];
    // Fourteen independent runs: at once.
    const runs = await Promise.all(cases.map((args) => Promise.all([cli(args), cli(args, { PROXYCTL_NO_BUNDLE: '1' })])));
    for (const [i, [bundled, normal]] of runs.entries()) expect(bundled, cases[i]!.join(' ')).toEqual(normal);
  });

  it('takes our own code below the commands from dist/src, not from a copy of its own', async () => {
    // a change to dist/src does not make the bundle stale, and the bundle runs the changed file
    const format = join(tree, 'dist/src/ui/format.js');
    const original = readFileSync(format, 'utf8');
    writeFileSync(format, `${original}\nthrow new Error('format.js from dist/src');\n`);
    utimesSync(format, new Date(), new Date());
    try {
      const r = await cli(['agent', 'status', '--socket', join(tree, 'no.sock')]);
      expect(r.stderr).toContain('format.js from dist/src');
      expect(r.stderr).not.toContain('loaded from dist/commands');
    } finally {
      writeFileSync(format, original);
    }
  });

  it('still works when its code cache is unusable (V8 refuses it and compiles the source)', async () => {
    const cache = join(tree, 'dist/cli.cache');
    const saved = readFileSync(cache);
    writeFileSync(cache, Buffer.alloc(saved.length, 7));
    try {
      const r = await cli(['agent', 'status', '--json', '--socket', join(tree, 'no.sock')]);
      expect(r.stderr).not.toContain('loaded from dist/commands');
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stdout).error.code).toBe('PXC_ERR_AGENT_UNREACHABLE');
    } finally {
      writeFileSync(cache, saved);
    }
  });

  it('is not used once an input is newer (e.g. after a bare tsc): the normal path runs', async () => {
    const now = new Date();
    utimesSync(statusJs(), now, now);
    const r = await cli(['agent', 'status', '--socket', join(tree, 'no.sock')]);
    expect(r.stderr).toContain('loaded from dist/commands');
    expect(r.code).toBe(1);
  });
});
