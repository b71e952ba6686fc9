#!/usr/bin/env node
/**
 * bench/download: proxyctl's downloads beside curl and aria2c, in one run, against a local
 * nginx (and tinyproxy for the proxied rows). Rounds are interleaved (every fetcher once per
 * round) and each row is the median of the rounds; the machine's load is printed with it.
 *
 *   A. one file of --size MiB (default 1024) from nginx, unthrottled:
 *      curl -o, curl -o && sync FILE, proxyctl (file store) direct and via tinyproxy, curl via
 *      tinyproxy, proxyctl (sqlite store), aria2c -x1 and -x4.
 *      Goals: file store ≥ 0.9 × curl && sync (direct), ≥ 0.9 × curl via tinyproxy.
 *   B. one file of --limited-size MiB (default 256) from nginx limited to 8 MiB/s per
 *      connection (limit_rate): proxyctl --connections 1 and 4, aria2c -x4.
 *      Goals: 4 connections ≥ 3.5 × one, ≥ aria2c -x4.
 *
 * proxyctl is timed as a user runs it (`download add --sha256 --wait`: CLI start-up, the wait's
 * polls, the agent's verify/fsync/rename included); the agent's own time for the job (its
 * created → finished) is printed beside it. proxyctl fsyncs the file before the rename; curl
 * and aria2c do not, hence "curl && sync". CPU s is user + system time of the fetcher (for
 * proxyctl: the agent's threads and the CLI), which a shared machine disturbs far less than
 * the wall clock.
 *
 *   node bench/download.js [--size MiB] [--limited-size MiB] [--runs N] [--part-size BYTES]
 *                          [--only A|B] [--profile DIR]
 * --profile runs the agents with --cpu-prof into DIR and prints where their time went.
 * Ports come from the kernel (or set BENCH_PORT_BASE to use a range). Not a test: goals are
 * reported, not asserted.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'run.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const sizeMiB = Number(arg('--size', 1024));
const limitedMiB = Number(arg('--limited-size', 256));
const runs = Number(arg('--runs', 3));
const partSize = Number(arg('--part-size', 16 * 1024 * 1024));
const only = arg('--only', null);
const profileDir = arg('--profile', null);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const LIMIT = 8 * 1024 * 1024;

const work = mkdtempSync(join(tmpdir(), 'pxc-bench-dl-'));
const children = [];

function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: 'ignore', ...opts });
  children.push(child);
  return child;
}

function accepts(port) {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

async function waitPort(port, what) {
  for (let i = 0; i < 200; i++) {
    if (await accepts(port)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

let nextPort = Number(process.env.BENCH_PORT_BASE ?? 0);
function freePort() {
  if (nextPort) return Promise.resolve(nextPort++);
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Random bytes, written in 8 MiB blocks; returns the sha256. */
function makeFile(path, bytes) {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  const block = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let left = bytes; left > 0; left -= block.length) {
    const b = left >= block.length ? block : block.subarray(0, left);
    randomFillSync(b);
    hash.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return hash.digest('hex');
}

async function startNginx(dir) {
  const port = await freePort();
  const conf = join(work, 'nginx.conf');
  mkdirSync(join(work, 'nginx-tmp'));
  writeFileSync(
    conf,
    `daemon off; master_process off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; default_type application/octet-stream;
  client_body_temp_path ${work}/nginx-tmp; proxy_temp_path ${work}/nginx-tmp; fastcgi_temp_path ${work}/nginx-tmp; uwsgi_temp_path ${work}/nginx-tmp; scgi_temp_path ${work}/nginx-tmp;
  server { listen 127.0.0.1:${port}; root ${dir};
    location /limited/ { alias ${dir}/; limit_rate ${LIMIT}; } } }\n`,
  );
  start('nginx', ['-c', conf, '-p', work, '-e', join(work, 'nginx-error.log')]);
  await waitPort(port, 'nginx');
  return port;
}

async function startTinyproxy() {
  const port = await freePort();
  const dir = join(work, 'tinyproxy');
  mkdirSync(dir, { mode: 0o777 });
  spawnSync('chmod', ['0777', dir]);
  const conf = join(dir, 'tinyproxy.conf');
  const asRoot = process.getuid?.() === 0;
  writeFileSync(conf, [...(asRoot ? ['User nobody', 'Group nogroup'] : []), `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', `LogFile "${dir}/log"`, 'LogLevel Warning', 'MaxClients 40', 'Allow 127.0.0.1', ''].join('\n'));
  start('tinyproxy', ['-d', '-c', conf]);
  await waitPort(port, 'tinyproxy');
  return `http://127.0.0.1:${port}`;
}

const TIME_MARK = '__bench_cpu__';
/** Runs a command under /usr/bin/time: wall seconds, its CPU seconds (user + system), its stdout. */
function timed(cmd, args, env = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', `${TIME_MARK} %U %S`, cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const m = new RegExp(`${TIME_MARK} ([\\d.]+) ([\\d.]+)`).exec(r.stderr);
  return { s, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, stdout: r.stdout };
}

/** CPU seconds (user + system, every thread) a process has used so far. */
function processCpu(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startAgent(name, httpProxy, downloads = {}) {
  const stateDir = join(work, `agent-${name}`);
  mkdirSync(stateDir);
  const config = join(stateDir, 'config.json');
  writeFileSync(config, JSON.stringify({ downloads: { part_size: partSize, ...downloads }, proxy: { http_proxy: httpProxy, health_check: false } }));
  // (--cpu-prof is not allowed in NODE_OPTIONS: it goes on node's own command line.)
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] : [];
  const child = start(process.execPath, [...prof, bin, 'agent', 'start', '--state-dir', stateDir, '--config', config, '--log-level', 'warn']);
  const socket = join(stateDir, 'agent.sock');
  for (let i = 0; ; i++) {
    if (spawnSync(process.execPath, [bin, 'agent', 'status', '--socket', socket]).status === 0) break;
    if (i > 100) throw new Error('agent did not start');
    await sleep(100);
  }
  return { name, socket, stateDir, child };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** Every fetcher once per round, in a rotating order; rows are medians. */
async function rounds(fetchers) {
  const times = new Map(fetchers.map((f) => [f.label, []]));
  const agentTimes = new Map(fetchers.map((f) => [f.label, []]));
  const cpus = new Map(fetchers.map((f) => [f.label, []]));
  for (let round = 0; round < runs; round++) {
    process.stderr.write(`round ${round + 1}/${runs}, load ${load()}\n`);
    for (let k = 0; k < fetchers.length; k++) {
      const f = fetchers[(k + round) % fetchers.length];
      // Not timed: the dirty pages the previous fetcher left (up to 1.5 GiB after the sqlite store)
      // go to disk now, not during this one's run.
      spawnSync('sync');
      const r = await f.run(round);
      times.get(f.label).push(r.s);
      cpus.get(f.label).push(r.cpu);
      if (r.agent !== undefined) agentTimes.get(f.label).push(r.agent);
      process.stderr.write(`  ${f.label}: ${r.s.toFixed(2)} s${r.agent !== undefined ? ` (agent ${r.agent.toFixed(2)} s)` : ''}, CPU ${r.cpu.toFixed(2)} s\n`);
    }
  }
  return Object.fromEntries(fetchers.map((f) => [f.label, { s: median(times.get(f.label)), cpu: median(cpus.get(f.label)), agent: agentTimes.get(f.label).length ? median(agentTimes.get(f.label)) : null }]));
}

function table(title, mib, rows, peers) {
  console.log(`\n${title}`);
  console.log('fetcher                                         wall s   agent s     MiB/s     CPU s   vs peer (wall; CPU)');
  for (const [label, r] of Object.entries(rows)) {
    const peer = peers[label];
    const ratio = peer ? `${(rows[peer].s / r.s).toFixed(2)} × ${peer}; CPU ${(r.cpu / rows[peer].cpu).toFixed(1)} ×` : '';
    console.log(`${label.padEnd(46)}${r.s.toFixed(2).padStart(8)}${(r.agent === null ? '-' : r.agent.toFixed(2)).padStart(10)}${(mib / r.s).toFixed(0).padStart(10)}${r.cpu.toFixed(2).padStart(10)}   ${ratio}`);
  }
}

/** Top functions by self time over the .cpuprofile files under dir. */
function profileSummary(dir) {
  const self = new Map();
  let total = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.cpuprofile')) {
        const prof = JSON.parse(readFileSync(p, 'utf8'));
        const dt = (prof.endTime - prof.startTime) / Math.max(1, prof.samples.length);
        const byId = new Map(prof.nodes.map((n) => [n.id, n]));
        for (const id of prof.samples) {
          const n = byId.get(id);
          const cf = n.callFrame;
          const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, '')}:${cf.lineNumber + 1}`;
          self.set(key, (self.get(key) ?? 0) + dt);
          total += dt;
        }
      }
    }
  };
  walk(dir);
  console.log(`\nagent CPU profile (${(total / 1e6).toFixed(2)} s sampled), top self time:`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${((100 * us) / total).toFixed(1).padStart(6)} %  ${k}`);
}

try {
  if (!has('nginx')) throw new Error('bench/download needs nginx (apt-get install nginx-light)');
  const srv = join(work, 'srv');
  mkdirSync(srv);
  process.stderr.write(`load before: ${load()}\n`);
  const port = await startNginx(srv);
  const proxy = has('tinyproxy') ? await startTinyproxy() : null;
  const out = join(work, 'out');
  mkdirSync(out);
  const aria2 = has('aria2c');

  const curl = (url, { viaProxy = null, fsync = false } = {}) => async () => {
    const dest = join(out, 'curl.bin');
    const a = ['-sS', '-f', '--noproxy', viaProxy ? '' : '*', ...(viaProxy ? ['-x', viaProxy] : []), '-o', dest, url];
    const r = fsync ? timed('sh', ['-c', `curl ${a.map((x) => `'${x}'`).join(' ')} && sync '${dest}'`]) : timed('curl', a);
    rmSync(dest, { force: true });
    return { s: r.s, cpu: r.cpu };
  };
  const aria = (url, x) => async () => {
    const r = timed('aria2c', ['-q', `-x${x}`, `-s${x}`, '-k1M', '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false', '--no-conf', '-d', out, '-o', 'aria.bin', url]);
    rmSync(join(out, 'aria.bin'), { force: true });
    return { s: r.s, cpu: r.cpu };
  };
  const proxyctl = (agent, url, sha, extra = []) => async (round) => {
    const dest = `run-${round}.bin`;
    const before = processCpu(agent.child.pid);
    const r = timed(process.execPath, [bin, 'download', 'add', url, '--dest', dest, '--sha256', sha, '--wait', '--json', '--socket', agent.socket, ...extra]);
    const cpu = processCpu(agent.child.pid) - before + r.cpu;
    const job = JSON.parse(r.stdout).views[0];
    rmSync(join(agent.stateDir, 'downloads', dest), { force: true });
    return { s: r.s, cpu, agent: (Date.parse(job.finished_at) - Date.parse(job.created_at)) / 1000 };
  };

  const lines = [];
  if (only === null || only === 'A') {
    process.stderr.write(`generating ${sizeMiB} MiB …\n`);
    const sha = makeFile(join(srv, 'file.bin'), sizeMiB * 1024 * 1024);
    const url = `http://127.0.0.1:${port}/file.bin`;
    const fileDirect = await startAgent('file-direct', 'DIRECT');
    const sqlite = await startAgent('sqlite-direct', 'DIRECT', { store: 'sqlite' });
    const fileProxy = proxy ? await startAgent('file-tinyproxy', proxy) : null;
    const fetchers = [
      { label: 'curl -o', run: curl(url) },
      { label: 'curl -o && sync', run: curl(url, { fsync: true }) },
      { label: 'proxyctl, file store', run: proxyctl(fileDirect, url, sha) },
      { label: 'proxyctl, sqlite store', run: proxyctl(sqlite, url, sha) },
      ...(proxy && fileProxy ? [{ label: 'curl -o via tinyproxy', run: curl(url, { viaProxy: proxy }) }, { label: 'proxyctl, file store, via tinyproxy', run: proxyctl(fileProxy, url, sha) }] : []),
      ...(aria2 ? [{ label: 'aria2c -x1', run: aria(url, 1) }, { label: 'aria2c -x4', run: aria(url, 4) }] : []),
    ];
    const rows = await rounds(fetchers);
    table(`A. ${sizeMiB} MiB from nginx (unthrottled), part_size ${partSize}, median of ${runs}`, sizeMiB, rows, {
      'proxyctl, file store': 'curl -o && sync',
      'proxyctl, sqlite store': 'curl -o && sync',
      'proxyctl, file store, via tinyproxy': 'curl -o via tinyproxy',
      'curl -o && sync': 'curl -o',
      'aria2c -x1': 'curl -o',
      'aria2c -x4': 'curl -o',
    });
    const g1 = rows['curl -o && sync'].s / rows['proxyctl, file store'].s;
    lines.push(`goal A1: file store ≥ 0.90 × curl -o && sync (direct): ${g1.toFixed(2)} × — ${g1 >= 0.9 ? 'met' : 'NOT met'}`);
    if (rows['curl -o via tinyproxy']) {
      const g2 = rows['curl -o via tinyproxy'].s / rows['proxyctl, file store, via tinyproxy'].s;
      lines.push(`goal A2: file store via tinyproxy ≥ 0.90 × curl via tinyproxy: ${g2.toFixed(2)} × — ${g2 >= 0.9 ? 'met' : 'NOT met'}`);
    }
    rmSync(join(srv, 'file.bin'), { force: true });
  }
  if (only === null || only === 'B') {
    process.stderr.write(`generating ${limitedMiB} MiB …\n`);
    const sha = makeFile(join(srv, 'limited.bin'), limitedMiB * 1024 * 1024);
    const url = `http://127.0.0.1:${port}/limited/limited.bin`;
    const agent = await startAgent('segmented', 'DIRECT');
    const fetchers = [
      { label: 'proxyctl --connections 1', run: proxyctl(agent, url, sha, ['--connections', '1']) },
      { label: 'proxyctl --connections 4', run: proxyctl(agent, url, sha, ['--connections', '4']) },
      ...(aria2 ? [{ label: 'aria2c -x4', run: aria(url, 4) }] : []),
    ];
    const rows = await rounds(fetchers);
    table(`B. ${limitedMiB} MiB from nginx limited to 8 MiB/s per connection, median of ${runs}`, limitedMiB, rows, {
      'proxyctl --connections 4': 'proxyctl --connections 1',
      'aria2c -x4': 'proxyctl --connections 1',
    });
    const g3 = rows['proxyctl --connections 1'].s / rows['proxyctl --connections 4'].s;
    lines.push(`goal B1: --connections 4 ≥ 3.5 × one connection: ${g3.toFixed(2)} × — ${g3 >= 3.5 ? 'met' : 'NOT met'}`);
    if (rows['aria2c -x4']) {
      const g4 = rows['aria2c -x4'].s / rows['proxyctl --connections 4'].s;
      lines.push(`goal B2: --connections 4 ≥ aria2c -x4: ${g4.toFixed(2)} × — ${g4 >= 1 ? 'met' : 'NOT met'}`);
    }
  }
  console.log(`\nnode ${process.version}, ${runs} interleaved rounds, load average now ${load()}`);
  for (const l of lines) console.log(l);
  if (profileDir) {
    for (const c of children) c.kill('SIGTERM');
    await sleep(2000);
    if (existsSync(profileDir)) profileSummary(profileDir);
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  rmSync(work, { recursive: true, force: true });
}
