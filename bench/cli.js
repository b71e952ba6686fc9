#!/usr/bin/env node
/**
 * bench/cli: wall time of `proxyctl agent status` beside its floor (`node -e 0`)
 * and a raw talk request (socat), medians of repeated runs, in one run.
 * Rounds are interleaved (every command once per round). With valgrind installed it
 * also counts the instructions of one run of each (callgrind): stable on a loaded, shared machine
 * where wall clock is not (skip with --no-instructions).
 *   node bench/cli.js [--runs N] [--no-instructions]
 */
import { spawn, spawnSync } from 'node:child_process';
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
  // [name, argv]: run without a shell, so no command pays for one.
  const commands = [
    ['node -e 0 (floor)', [process.execPath, '-e', '0']],
    ['proxyctl agent status', [process.execPath, bin, 'agent', 'status', '--socket', socket]],
    ['proxyctl agent status --json', [process.execPath, bin, 'agent', 'status', '--json', '--socket', socket]],
  ];
  if (has('socat')) commands.push(['socat talk "pid"', ['sh', '-c', `printf 'pid\\n' | socat - UNIX-CONNECT:${socket}`]]);

  // Interleaved rounds (every command once per round, in a rotating order): a burst of load from
  // the rest of a shared box, or a drift over the run, hits all commands alike. hyperfine runs one
  // command's runs back to back, and there the ratio moved by 0.5 between two runs.
  const times = commands.map(() => []);
  for (let round = 0; round < runs + 3; round++) {
    for (let k = 0; k < commands.length; k++) {
      const i = (k + round) % commands.length;
      const t = process.hrtime.bigint();
      const [file, ...args] = commands[i][1];
      spawnSync(file, args, { stdio: 'ignore' });
      if (round >= 3) times[i].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  const medians = times.map((ts) => ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]);
  const floor = medians[0];
  console.log(`\nbench/cli — medians of ${runs} interleaved rounds, node ${process.version}`);
  console.log('command                         median ms   × node -e 0');
  commands.forEach(([name], i) => console.log(`${name.padEnd(32)}${medians[i].toFixed(1).padStart(9)}   ${(medians[i] / floor).toFixed(2).padStart(10)}`));
  if (has('valgrind') && !process.argv.includes('--no-instructions')) {
    const counts = commands.map(([, argv]) => {
      if (argv[0] !== process.execPath) return NaN; // socat's pipeline: not counted
      const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
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
