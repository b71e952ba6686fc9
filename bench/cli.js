#!/usr/bin/env node
/**
 * bench/cli: wall time of `proxyctl agent status` beside its floor (`node -e 0`)
 * and a raw talk request (socat), medians of repeated runs, in one run.
 * Uses hyperfine when installed, else times the commands itself. With valgrind installed it
 * also counts the instructions of one run of each (callgrind): stable on a loaded, shared machine
 * where wall clock is not (skip with --no-instructions).
 *   node bench/cli.js [--runs N] [--no-instructions]
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'run.js');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 30;
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

const stateDir = mkdtempSync(join(tmpdir(), 'pxc-bench-'));
const socket = join(stateDir, 'agent.sock');
const agent = spawn(process.execPath, [bin, 'agent', 'start', '--state-dir', stateDir, '--log-level', 'warn'], { stdio: 'ignore' });
try {
  for (let i = 0; ; i++) {
    if (spawnSync(process.execPath, [bin, 'agent', 'status', '--socket', socket]).status === 0) break;
    if (i > 200) throw new Error('agent did not start');
  }
  const commands = [
    ['node -e 0 (floor)', `${process.execPath} -e 0`],
    ['proxyctl agent status', `${process.execPath} ${bin} agent status --socket ${socket}`],
    ['proxyctl agent status --json', `${process.execPath} ${bin} agent status --json --socket ${socket}`],
  ];
  if (has('socat')) commands.push(['socat talk "pid"', `sh -c "printf 'pid\\n' | socat - UNIX-CONNECT:${socket}"`]);

  let medians;
  if (has('hyperfine')) {
    const out = join(stateDir, 'hf.json');
    execFileSync('hyperfine', ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', out, ...commands.map(([, c]) => c)], { stdio: ['ignore', 'ignore', 'inherit'] });
    medians = JSON.parse(readFileSync(out, 'utf8')).results.map((r) => r.median * 1000);
  } else {
    medians = commands.map(([, c]) => {
      const times = [];
      for (let i = 0; i < runs + 3; i++) {
        const t = process.hrtime.bigint();
        spawnSync('sh', ['-c', c], { stdio: 'ignore' });
        if (i >= 3) times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(times.length / 2)];
    });
  }
  const floor = medians[0];
  console.log(`\nbench/cli — medians of ${runs} runs (${has('hyperfine') ? 'hyperfine' : 'own timer'}), node ${process.version}`);
  console.log('command                         median ms   × node -e 0');
  commands.forEach(([name], i) => console.log(`${name.padEnd(32)}${medians[i].toFixed(1).padStart(9)}   ${(medians[i] / floor).toFixed(2).padStart(10)}`));
  if (has('valgrind') && !process.argv.includes('--no-instructions')) {
    const counts = commands.map(([, c]) => {
      if (!c.startsWith(process.execPath)) return NaN; // socat's pipeline: not counted
      const r = spawnSync('sh', ['-c', `valgrind --tool=callgrind --callgrind-out-file=/dev/null ${c} >/dev/null`], { encoding: 'utf8' });
      return Number(/Collected : (\d+)/.exec(r.stderr)?.[1]);
    });
    console.log('\ncommand                         M instructions   × node -e 0   (callgrind, one run)');
    commands.forEach(([name], i) => Number.isNaN(counts[i]) || console.log(`${name.padEnd(32)}${(counts[i] / 1e6).toFixed(0).padStart(14)}   ${(counts[i] / counts[0]).toFixed(2).padStart(11)}`));
  }
  console.log('goal: proxyctl agent status ≤ 1.5 × node -e 0');
} finally {
  agent.kill('SIGTERM');
  rmSync(stateDir, { recursive: true, force: true });
}
