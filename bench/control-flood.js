#!/usr/bin/env node
/**
 * Control socket under a flood of clients that never read: N clients each
 * write M `agent.help` JSON-RPC requests on one connection and read nothing.
 * Prints the agent's RSS before, its peak while the clients hang on, and the
 * growth, for this proxyctl and (--peer DIR) another checkout side by side,
 * interleaved over --rounds.
 *
 *   node bench/control-flood.js [--clients 4] [--requests 20000] [--hold 8] [--rounds 2] [--peer /path/to/other/proxyctl]
 *
 * Issue 10's goal: 4 clients × 20 000 requests keep the growth under 64 MB.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    requests: { type: 'string', default: '20000' },
    hold: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '2' },
    peer: { type: 'string' },
  },
});
const clients = Number(values.clients);
const requests = Number(values.requests);
const holdMs = Number(values.hold) * 1000;
const here = resolve(fileURLToPath(new URL('..', import.meta.url)));
const subjects = [{ name: 'this', root: here }, ...(values.peer ? [{ name: 'peer', root: resolve(values.peer) }] : [])];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

function talk(path, line) {
  return new Promise((res, rej) => {
    const s = createConnection(path);
    let out = '';
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (d) => (out += d));
    s.on('error', rej);
    s.on('close', () => res(out));
  });
}

async function round(root) {
  const dir = mkdtempSync(join(tmpdir(), 'pxc-flood-'));
  const sock = join(dir, 'agent.sock');
  // idle_timeout above the hold time: the clients are cut by us, not by the agent's idle timer.
  const cfgPath = join(dir, 'config.json');
  writeFileSync(cfgPath, JSON.stringify({ control: { idle_timeout: holdMs / 1000 + 30 } }));
  const agent = spawn(process.execPath, [join(root, 'bin/run.js'), 'agent', 'start', '--state-dir', dir, '--config', cfgPath, '--log-level', 'warn'], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    if ((await talk(sock, 'pid').catch(() => '')).trim() === String(agent.pid)) break;
    if (i > 400) throw new Error(`agent in ${root} did not start`);
    await sleep(50);
  }
  await sleep(500);
  const before = rssMb(agent.pid);
  const line = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'agent.help' }) + '\n';
  const payload = line.repeat(requests);
  const sockets = [];
  for (let c = 0; c < clients; c++) {
    const s = createConnection(sock);
    s.on('error', () => undefined);
    s.pause(); // never read
    s.write(payload);
    sockets.push(s);
  }
  let peak = before;
  const end = Date.now() + holdMs;
  while (Date.now() < end) {
    peak = Math.max(peak, rssMb(agent.pid));
    await sleep(100);
  }
  for (const s of sockets) s.destroy();
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return { before, peak, growth: peak - before };
}

const results = new Map(subjects.map((s) => [s.name, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const s of subjects) results.get(s.name).push(await round(s.root));
}
console.log(`control flood: ${clients} clients × ${requests} agent.help requests, never read, held ${holdMs / 1000} s; RSS in MB (median of ${values.rounds} rounds, interleaved)`);
console.log('agent'.padEnd(8), 'before'.padStart(8), 'peak'.padStart(8), 'growth'.padStart(8));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
for (const s of subjects) {
  const rs = results.get(s.name);
  console.log(s.name.padEnd(8), median(rs.map((x) => x.before)).toFixed(0).padStart(8), median(rs.map((x) => x.peak)).toFixed(0).padStart(8), median(rs.map((x) => x.growth)).toFixed(0).padStart(8));
}
if (subjects.length === 2) {
  const g = subjects.map((s) => median(results.get(s.name).map((x) => x.growth)));
  console.log(`growth ratio this/peer: ${(g[0] / g[1]).toFixed(3)}`);
}
