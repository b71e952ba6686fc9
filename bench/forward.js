#!/usr/bin/env node
/**
 * bench/forward: the app proxy's engines beside direct, a bare Node relay and
 * HAProxy (TCP mode), in one run, as ratios. Rows:
 *   bulk            one stream of BULK_BYTES through the proxy to a sink (MB/s)
 *   http keep-alive wrk → nginx, small responses, persistent connections (req/s)
 *   http new conn   wrk with "Connection: close": one connection per request (req/s)
 *   foo pipelined   REQs pipelined (window of 1000) against a Foo server, tcp and foo mode (msg/s)
 *   foo lock-step   one REQ written in two pieces, wait its ACK, repeat (round trips/s)
 *
 *   node bench/forward.js [--seconds S] [--repeat N] [--threads N] [--only ROW]
 *
 * Peers (columns): direct; HAProxy with nbthread 1 and nbthread N; proxyctl's
 * native engine with forward.threads 1 and N; proxyctl's node engine; a bare
 * Node pipe() relay (the floor of what Node can do). N defaults to the CPUs.
 *
 * Every cell: one warm-up run per peer (V8's JIT, page cache, pools), then N
 * rounds (default 2) that visit every peer in turn — interleaved, so a burst
 * of load from the rest of a shared box hits all peers alike — and the best
 * round per peer, since load only ever slows a run down. CPU time (user +
 * system from /proc) per unit of work is summed over the rounds per peer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'run.js');
const tools = join(root, 'bench', 'forward.tools.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : process.argv[i + 1];
};
const seconds = Number(arg('--seconds', 5));
const threads = Number(arg('--threads', cpus().length));
const repeat = Number(arg('--repeat', 2));
const only = arg('--only', null);
const BULK_BYTES = 2 * 1024 ** 3;
const FOO_MESSAGES = 400_000;
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'pxc-bench-fwd-'));
const children = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function startTool(...args) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [tools, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    c.stdout.setEncoding('utf8').on('data', (d) => {
      const m = /ready (\d+)/.exec(d);
      if (m) resolve(Number(m[1]));
    });
    c.once('exit', (code) => reject(new Error(`tool ${args[0]} exited ${code}`)));
  });
}

function runTool(...args) {
  const r = spawnSync(process.execPath, [tools, ...args.map(String)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`tool ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function waitPort(port) {
  return (async () => {
    for (let i = 0; i < 300; i++) {
      const ok = await new Promise((r) => {
        const s = connect({ port, host: '127.0.0.1' });
        s.once('connect', () => (s.destroy(), r(true)));
        s.once('error', () => r(false));
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error(`nothing listening on ${port}`);
  })();
}

/** utime + stime of a process in seconds (Linux /proc). */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function wrk(port, close, warmup) {
  const args = ['-t', '1', '-c', close ? '20' : '50', '-d', `${warmup ? 1 : seconds}s`, ...(close ? ['-H', 'Connection: close'] : []), `http://127.0.0.1:${port}/`];
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  const n = /(\d+) requests in/.exec(r.stdout);
  const errors = /Non-2xx|Socket errors: (.*)/.exec(r.stdout);
  if (!m) throw new Error(`wrk failed: ${r.stdout}${r.stderr}`);
  return { value: Number(m[1]), units: Number(n[1]), note: errors ? errors[0] : '' };
}

const PEERS = ['direct', 'haproxy1', 'haproxyN', 'native1', 'nativeN', 'node', 'pipe'];
const LABEL = { direct: 'direct', haproxy1: 'haproxy ×1', haproxyN: `haproxy ×${threads}`, native1: 'native ×1', nativeN: `native ×${threads}`, node: 'node', pipe: 'node pipe()' };

async function main() {
  // Backends.
  const nginxPort = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:${nginxPort}; location / { return 200 "hello world\\n"; } } }\n`,
  );
  const nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  children.push(nginx);
  const sinkPort = await startTool('sink', 0);
  const fooPort = await startTool('foo-server', 0);
  await waitPort(nginxPort);
  const backend = { http: nginxPort, bulk: sinkPort, foo: fooPort, fooFoo: fooPort };
  const ports = { direct: backend };
  const pids = { direct: null };

  // proxyctl, once per engine setting: one app per backend, foo twice (tcp and foo mode).
  const nodeArgs = process.env.PXC_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PXC_CPU_PROF}`] : [];
  const agents = [];
  for (const [peer, forward] of [
    ['native1', { engine: 'native', threads: 1 }],
    ['nativeN', { engine: 'native', threads }],
    ['node', { engine: 'node' }],
  ]) {
    const p = { http: await freePort(), bulk: await freePort(), foo: await freePort(), fooFoo: await freePort() };
    const config = {
      forward,
      apps: [
        { name: 'http', ports: [p.http], targets: [`127.0.0.1:${nginxPort}`] },
        { name: 'bulk', ports: [p.bulk], targets: [`127.0.0.1:${sinkPort}`] },
        { name: 'foo-tcp', ports: [p.foo], targets: [`127.0.0.1:${fooPort}`] },
        { name: 'foo', ports: [p.fooFoo], targets: [`127.0.0.1:${fooPort}`], protocol: 'foo' },
      ],
    };
    writeFileSync(join(dir, `${peer}.json`), JSON.stringify(config));
    const agent = spawn(process.execPath, [...nodeArgs, bin, 'agent', 'start', '--state-dir', join(dir, peer), '--config', join(dir, `${peer}.json`), '--log-level', 'warn'], { stdio: 'inherit' });
    children.push(agent);
    agents.push(agent);
    ports[peer] = p;
    pids[peer] = agent.pid;
  }
  const np = { http: await freePort(), bulk: await freePort(), foo: await freePort() };
  const relay = spawn(process.execPath, [tools, 'node-relay', `${np.http}:${nginxPort}`, `${np.bulk}:${sinkPort}`, `${np.foo}:${fooPort}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(relay);
  ports.pipe = { ...np, fooFoo: np.foo };
  pids.pipe = relay.pid;

  // HAProxy in TCP mode, same backends, nbthread 1 and N; splice where it helps (its best per workload).
  const hasHaproxy = has('haproxy');
  for (const [peer, n] of hasHaproxy ? [['haproxy1', 1], ['haproxyN', threads]] : []) {
    const h = { http: await freePort(), bulk: await freePort(), foo: await freePort() };
    const fe = (name, port, back) => `listen ${name}\n  bind 127.0.0.1:${port}\n  server s1 ${back}\n`;
    writeFileSync(
      join(dir, `${peer}.cfg`),
      `global\n  nbthread ${n}\n  maxconn 4000\ndefaults\n  mode tcp\n  option splice-auto\n  timeout connect 3s\n  timeout client 1h\n  timeout server 1h\n` +
        fe('http', h.http, `127.0.0.1:${nginxPort}`) +
        fe('bulk', h.bulk, `127.0.0.1:${sinkPort}`) +
        fe('foo', h.foo, `127.0.0.1:${fooPort}`),
    );
    const proc = spawn('haproxy', ['-db', '-f', join(dir, `${peer}.cfg`)], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(proc);
    ports[peer] = { ...h, fooFoo: h.foo };
    pids[peer] = proc.pid;
  }
  const peers = PEERS.filter((p) => ports[p]);
  for (const p of peers) for (const port of new Set(Object.values(ports[p]))) await waitPort(port);

  const rows = [];
  const row = (name, unit, measure) => {
    if (only && !name.startsWith(only)) return;
    for (const p of peers) measure(p, true); // warm-up
    const runs = Object.fromEntries(peers.map((p) => [p, []]));
    const cpu = Object.fromEntries(peers.map((p) => [p, 0]));
    for (let r = 0; r < repeat; r++) {
      for (const p of peers) {
        const c0 = pids[p] ? cpuSeconds(pids[p]) : NaN;
        runs[p].push(measure(p, false));
        cpu[p] += pids[p] ? cpuSeconds(pids[p]) - c0 : NaN;
      }
    }
    const cells = {};
    for (const p of peers) {
      const best = runs[p].reduce((a, b) => (b.value > a.value ? b : a));
      cells[p] = { ...best, cpuPerUnit: cpu[p] / runs[p].reduce((n, x) => n + x.units, 0) };
    }
    rows.push({ name, unit, cells });
    process.stderr.write(`  ${name}: ${peers.map((p) => `${LABEL[p]} ${fmt(cells[p].value)}`).join(', ')} ${unit}\n`);
  };
  const target = (peer, key) => ports[peer][key];

  process.stderr.write(`bench/forward: ${seconds} s per measurement, best of ${repeat} interleaved rounds, node ${process.version}, ${threads} threads for ×N, load ${loadavg()}\n`);
  row('bulk, one stream', 'MB/s', (k, warm) => {
    const bytes = warm ? BULK_BYTES / 8 : BULK_BYTES;
    const r = runTool('bulk', `127.0.0.1:${target(k, 'bulk')}`, bytes);
    if (r.bytes !== bytes) throw new Error(`bulk through ${k}: ${r.bytes} of ${bytes} bytes arrived`);
    return { value: r.bytes / r.seconds / 1e6, units: r.bytes / 1e6 };
  });
  row('http keep-alive (wrk, 50 conns)', 'req/s', (k, warm) => wrk(target(k, 'http'), false, warm));
  row('http new conn per request (wrk, 20 conns)', 'req/s', (k, warm) => wrk(target(k, 'http'), true, warm));
  row('foo pipelined, tcp mode', 'msg/s', (k, warm) => {
    const r = runTool('foo-pipe', `127.0.0.1:${target(k, 'foo')}`, warm ? FOO_MESSAGES / 4 : FOO_MESSAGES, 1000);
    return { value: r.messages / r.seconds, units: r.messages };
  });
  row('foo pipelined, foo mode', 'msg/s', (k, warm) => {
    const r = runTool('foo-pipe', `127.0.0.1:${target(k, 'fooFoo')}`, warm ? FOO_MESSAGES / 4 : FOO_MESSAGES, 1000);
    return { value: r.messages / r.seconds, units: r.messages };
  });
  row('foo lock-step, foo mode', 'round trips/s', (k, warm) => {
    const r = runTool('foo-lockstep', `127.0.0.1:${target(k, 'fooFoo')}`, warm ? 0.5 : Math.min(seconds, 3));
    return { value: r.round_trips / r.seconds, units: r.round_trips };
  });

  for (const a of agents) a.kill('SIGTERM');
  await Promise.all(agents.map((a) => new Promise((r) => (a.exitCode !== null ? r() : a.once('exit', r)))));

  console.log(`\nbench/forward — best of ${repeat} interleaved rounds after a warm-up, ${seconds} s each, node ${process.version}, ${hasHaproxy ? `HAProxy ${haproxyVersion()}` : 'HAProxy not installed'}, load at the end ${loadavg()}`);
  const rel = (a, b) => (a && b ? (a.value / b.value).toFixed(2) : '-');
  const head = ['row', 'unit', ...peers.map((p) => LABEL[p]), 'nat×1/hap×1', `nat×${threads}/hap×${threads}`, 'node/hap×1', 'node/pipe', `nat×${threads}/nat×1`, ...peers.filter((p) => pids[p]).map((p) => `CPU µs/unit ${LABEL[p]}`)];
  const lines = rows.map(({ name, unit, cells: c }) => [
    name,
    unit,
    ...peers.map((p) => fmt(c[p].value)),
    rel(c.native1, c.haproxy1),
    rel(c.nativeN, c.haproxyN),
    rel(c.node, c.haproxy1),
    rel(c.node, c.pipe),
    rel(c.nativeN, c.native1),
    ...peers.filter((p) => pids[p]).map((p) => (c[p].cpuPerUnit * 1e6).toFixed(2)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  for (const l of [head, ...lines]) console.log(l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  const get = (prefix, peer) => rows.find((r) => r.name.startsWith(prefix))?.cells[peer]?.value;
  for (const peer of ['native1', 'nativeN', 'node']) {
    const tcp = get('foo pipelined, tcp', peer);
    const foo = get('foo pipelined, foo', peer);
    if (tcp && foo) console.log(`foo mode / tcp mode (pipelined), ${LABEL[peer]}: ${(foo / tcp).toFixed(2)} (goal ≥ 0.90)`);
  }
  const notes = rows.flatMap((r) => peers.filter((p) => r.cells[p]?.note).map((p) => `${r.name} ${LABEL[p]}: ${r.cells[p].note}`));
  if (notes.length) console.log(`notes:\n  ${notes.join('\n  ')}`);
}

function loadavg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

function haproxyVersion() {
  return /version (\S+)/.exec(spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
}

function fmt(v) {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

try {
  await main();
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM');
  await sleep(200);
  rmSync(dir, { recursive: true, force: true });
}
