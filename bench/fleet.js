#!/usr/bin/env node
/**
 * bench/fleet: how fast a `fleet push` reaches a fleet of agents on this
 * machine, and what a fleet at rest costs etcd. For each fleet size (agents
 * on one host, forward.bind 127.0.0.2, 127.0.0.3, …, one etcd member):
 *
 *   push → etcd watch     the push's JSON-RPC call until a plain etcd watcher in this
 *                         process sees the new revision: the floor (validation, the
 *                         guarded transaction, etcd's watch delivery)
 *   push → all applied    until every agent's node record says it runs the revision
 *                         (each agent: watch event, range read, validate, hot reload
 *                         with a new app port listening, state.db, record write)
 *   per-agent apply       the same, per agent and push
 *   local reload          the peer: `agent reload` of one agent whose file moved an app
 *                         port, the same reload path without etcd (one agent, idle fleet)
 *
 * and at rest, over --rest seconds, per agent and minute: keys written
 * (etcd_debugging_mvcc_put_total), lease keepalives (…_lease_renewed_total)
 * and reads (…_mvcc_range_total) from etcd's own /metrics.
 *
 *   node bench/fleet.js [--agents 3,10,30] [--rounds 30] [--rest 60] [--port-base N]
 *
 * Ports: free ones, or from --port-base upward. Run `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'run.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : process.argv[i + 1];
};
const sizes = String(arg('--agents', '3,10,30')).split(',').map(Number);
const rounds = Number(arg('--rounds', 30));
const restSeconds = Number(arg('--rest', 60));
let nextPort = Number(arg('--port-base', 0));
const dir = mkdtempSync(join(tmpdir(), 'pxc-bench-fleet-'));
const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function port() {
  if (nextPort) return nextPort++;
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function rpc(socket, method, params = {}) {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    let buf = '';
    c.setEncoding('utf8');
    c.once('connect', () => c.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n'));
    c.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      c.destroy();
      const msg = JSON.parse(buf.slice(0, nl));
      if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
      else resolve(msg.result);
    });
    c.once('error', reject);
  });
}

async function until(what, probe, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function startEtcd() {
  const client = await port();
  const peer = await port();
  const data = mkdtempSync(join('/dev/shm', 'pxc-bench-etcd-'));
  const url = `http://127.0.0.1:${client}`;
  const child = spawn('etcd', ['--name', 'b0', '--data-dir', data, '--listen-client-urls', url, '--advertise-client-urls', url, '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `b0=http://127.0.0.1:${peer}`, '--logger', 'zap', '--log-level', 'error'], { stdio: 'ignore' });
  children.add(child);
  await until('etcd', async () => (await fetch(`${url}/health`)).ok);
  return { url, stop: () => { child.kill('SIGKILL'); rmSync(data, { recursive: true, force: true }); } };
}

async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { puts: get('etcd_debugging_mvcc_put_total'), renewed: get('etcd_debugging_lease_renewed_total'), ranges: get('etcd_debugging_mvcc_range_total') };
}

async function startAgent(etcdUrl, prefix, i, local = {}) {
  const stateDir = join(dir, `${prefix.replaceAll('/', '')}-${i}`);
  const config = join(stateDir, 'config.json');
  mkdirSync(stateDir, { recursive: true });
  const node = `n${String(i).padStart(2, '0')}`;
  writeFileSync(config, JSON.stringify({ ...local, log: { level: 'warn' }, forward: { bind: `127.0.0.${2 + i}` }, cluster: { endpoints: [etcdUrl], prefix, node } }));
  const child = spawn(process.execPath, [bin, 'agent', 'start', '--state-dir', stateDir, '--config', config], { stdio: 'ignore', env: { ...process.env, PROXYCTL_SOCKET: '' } });
  children.add(child);
  const socket = join(stateDir, 'agent.sock');
  await until(`agent ${node}`, async () => (await rpc(socket, 'agent.pid')) === child.pid);
  return { node, socket, config, child, stateDir };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (x) => `${x.toFixed(0)} ms`;

async function fleetRun(etcdUrl, n) {
  const prefix = `/bench-${n}/`;
  const agents = [];
  // A few at a time: 30 agents starting at once thrash 2 cores.
  for (let i = 0; i < n; i += 5) agents.push(...(await Promise.all(Array.from({ length: Math.min(5, n - i) }, (_, j) => startAgent(etcdUrl, prefix, i + j)))));
  const etcd = new Etcd3({ hosts: etcdUrl });
  const ns = etcd.namespace(prefix);
  await until(`${n} node records`, async () => Object.keys(await ns.getAll().prefix('nodes/').strings()).length === n);

  // Node records and config revisions as they arrive, timestamped here.
  const seen = new Map(); // revision -> { watch: t, applied: Map(node -> t) }
  const slot = (rev) => seen.get(rev) ?? seen.set(rev, { watch: null, applied: new Map() }).get(rev);
  const w = await ns.watch().prefix('').create();
  w.on('put', (kv) => {
    const key = kv.key.toString();
    const t = performance.now();
    if (key === 'config/meta') slot(Number(kv.mod_revision)).watch ??= t;
    else if (key.startsWith('nodes/')) {
      const rec = JSON.parse(kv.value.toString());
      const s = slot(rec.config_revision);
      if (!s.applied.has(rec.node)) s.applied.set(rec.node, t);
    }
  });

  const toWatch = [];
  const toAll = [];
  const perAgent = [];
  for (let r = 0; r < rounds + 1; r++) {
    const appPort = await port();
    const t0 = performance.now();
    const { revision } = await rpc(agents[r % n].socket, 'fleet.push', { document: { apps: [{ name: 'bench', ports: [appPort], targets: ['127.0.0.1:9'] }] }, source: `bench-${r}.json` });
    await until(`revision ${revision} on ${n} agents`, () => slot(revision).applied.size === n, 30_000);
    const s = slot(revision);
    if (r === 0) continue; // warm-up: first listener, first JIT
    toWatch.push(s.watch - t0);
    toAll.push(Math.max(...s.applied.values()) - t0);
    for (const t of s.applied.values()) perAgent.push(t - t0);
    await sleep(100);
  }

  // At rest: nothing pushed; count what the agents write and renew.
  await sleep(2000);
  const before = await metrics(etcdUrl);
  const t = performance.now();
  await sleep(restSeconds * 1000);
  const after = await metrics(etcdUrl);
  const minutes = (performance.now() - t) / 60_000;
  const perMin = (k) => (after[k] - before[k]) / n / minutes;
  const load = loadavg()[0];

  await w.cancel();
  etcd.close();
  await Promise.all(agents.map((a) => new Promise((r) => { a.child.once('exit', r); a.child.kill('SIGTERM'); })));
  for (const a of agents) children.delete(a.child);
  return { n, toWatch, toAll, perAgent, rest: { puts: perMin('puts'), renewed: perMin('renewed'), ranges: perMin('ranges') }, load };
}

/** The peer: one agent's own `agent reload` of a file that moves an app port, same apply path without etcd. */
async function localReload(etcdUrl) {
  const a = await startAgent(etcdUrl, '/bench-local/', 0, { apps: [{ name: 'bench', ports: [await port()] }] });
  const times = [];
  for (let r = 0; r < rounds + 1; r++) {
    writeFileSync(a.config, JSON.stringify({ log: { level: 'warn' }, forward: { bind: '127.0.0.2' }, cluster: { endpoints: [etcdUrl], prefix: '/bench-local/', node: 'n00' }, apps: [{ name: 'bench', ports: [await port()] }] }));
    const t0 = performance.now();
    await rpc(a.socket, 'agent.reload');
    if (r > 0) times.push(performance.now() - t0);
  }
  await new Promise((r) => { a.child.once('exit', r); a.child.kill('SIGTERM'); });
  children.delete(a.child);
  return times;
}

const etcd = await startEtcd();
try {
  console.log(`bench/fleet: ${rounds} pushes per fleet size (one warm-up more), rest window ${restSeconds} s, lease_ttl 10 s; load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const reload = await localReload(etcd.url);
  const results = [];
  for (const n of sizes) {
    results.push(await fleetRun(etcd.url, n));
    const r = results.at(-1);
    console.log(`  ${n} agents done (load average ${r.load.toFixed(2)})`);
  }
  console.log('\npush → every agent applied (node record written), ms, p50 / p99:');
  console.log('agents  push→etcd watch  push→all applied  per-agent apply  p99 all < 1 s  load');
  for (const r of results) {
    const cell = (xs) => `${ms(pct(xs, 50))} / ${ms(pct(xs, 99))}`;
    console.log(`${String(r.n).padEnd(6)}  ${cell(r.toWatch).padEnd(15)}  ${cell(r.toAll).padEnd(16)}  ${cell(r.perAgent).padEnd(15)}  ${(pct(r.toAll, 99) < 1000 ? 'met' : 'MISSED').padEnd(13)}  ${r.load.toFixed(2)}`);
  }
  console.log(`peer: local agent reload (one agent, app port moved): ${ms(pct(reload, 50))} / ${ms(pct(reload, 99))}`);
  console.log('\netcd traffic at rest, per agent per minute (etcd /metrics):');
  console.log('agents  keys written  lease keepalives  reads');
  for (const r of results) console.log(`${String(r.n).padEnd(6)}  ${r.rest.puts.toFixed(1).padEnd(12)}  ${r.rest.renewed.toFixed(1).padEnd(16)}  ${r.rest.ranges.toFixed(1)}`);
  console.log('(expected with lease_ttl 10: one record write every 5 s = 12/min, one keepalive every 3.3 s = 18/min, no reads)');
} finally {
  for (const c of children) c.kill('SIGKILL');
  etcd.stop();
  rmSync(dir, { recursive: true, force: true });
}
