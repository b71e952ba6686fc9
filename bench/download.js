#!/usr/bin/env node
/**
 * bench/download: one large file from a local origin (nginx when installed,
 * else a tiny node static server), fetched by `curl -o` and by
 * `proxyctl download add --wait` (each part committed to SQLite, then appended
 * to <dest>.partial and hashed; at the end fsync, verify, rename), DIRECT and
 * through a forward proxy (tinyproxy when installed),
 * in the same run. Prints wall times, MiB/s and proxyctl ÷ curl.
 *   node bench/download.js [--size MiB (default 1024)] [--runs N (default 1)] [--part-size BYTES]
 * Not a test: the goal (≥ 0.8× curl) is reported, not asserted.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'run.js');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const sizeMiB = arg('--size', 1024);
const runs = arg('--runs', 1);
const partSize = arg('--part-size', 4 * 1024 * 1024);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'pxc-bench-dl-'));
const children = [];
const cleanups = [];

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

function freePort() {
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

async function startOrigin(dir) {
  const port = await freePort();
  if (has('nginx')) {
    const conf = join(work, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off; master_process off; worker_processes 1; pid ${work}/nginx.pid; error_log ${work}/nginx-error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path ${work}/nginx-tmp; proxy_temp_path ${work}/nginx-tmp; fastcgi_temp_path ${work}/nginx-tmp; uwsgi_temp_path ${work}/nginx-tmp; scgi_temp_path ${work}/nginx-tmp;
  server { listen 127.0.0.1:${port}; root ${dir}; } }\n`,
    );
    mkdirSync(join(work, 'nginx-tmp'));
    start('nginx', ['-c', conf, '-p', work]);
    await waitPort(port, 'nginx');
    return { port, name: 'nginx' };
  }
  const server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    let st;
    try {
      st = statSync(path);
    } catch {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { 'content-length': st.size - start, ...(m ? { 'content-range': `bytes ${start}-${st.size - 1}/${st.size}` } : {}) });
    createReadStream(path, { start }).pipe(res);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  cleanups.push(() => server.close());
  return { port, name: 'node static server' };
}

async function startProxy() {
  if (!has('tinyproxy')) return null;
  const port = await freePort();
  const dir = join(work, 'tinyproxy');
  mkdirSync(dir, { mode: 0o777 });
  spawnSync('chmod', ['0777', dir]);
  const conf = join(dir, 'tinyproxy.conf');
  const asRoot = process.getuid?.() === 0;
  writeFileSync(conf, [...(asRoot ? ['User nobody', 'Group nogroup'] : []), `Port ${port}`, 'Listen 127.0.0.1', 'Timeout 60', `LogFile "${dir}/log"`, 'LogLevel Warning', 'MaxClients 20', 'Allow 127.0.0.1', ''].join('\n'));
  start('tinyproxy', ['-d', '-c', conf]);
  await waitPort(port, 'tinyproxy');
  return { url: `http://127.0.0.1:${port}`, name: 'tinyproxy' };
}

function timed(cmd, args, env = {}) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return s;
}

async function startAgent(name, httpProxy, downloads = {}) {
  const stateDir = join(work, `agent-${name}`);
  mkdirSync(stateDir);
  const config = join(stateDir, 'config.json');
  writeFileSync(config, JSON.stringify({ downloads: { part_size: partSize, ...downloads }, proxy: { http_proxy: httpProxy, health_check: false } }));
  const child = start(process.execPath, [bin, 'agent', 'start', '--state-dir', stateDir, '--config', config, '--log-level', 'warn']);
  const socket = join(stateDir, 'agent.sock');
  for (let i = 0; ; i++) {
    if (spawnSync(process.execPath, [bin, 'agent', 'status', '--socket', socket]).status === 0) break;
    if (i > 100) throw new Error('agent did not start');
    await sleep(100);
  }
  return { socket, stateDir, child };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const bytes = sizeMiB * 1024 * 1024;
  const srv = join(work, 'srv');
  mkdirSync(srv);
  process.stderr.write(`generating ${sizeMiB} MiB …\n`);
  const sha = makeFile(join(srv, 'file.bin'), bytes);
  const origin = await startOrigin(srv);
  const proxy = await startProxy();
  const url = `http://127.0.0.1:${origin.port}/file.bin`;
  const out = join(work, 'out');
  mkdirSync(out);

  const rows = [];
  const measure = async (label, fn) => {
    const times = [];
    for (let i = 0; i < runs; i++) {
      times.push(await fn(i));
      process.stderr.write(`  ${label}: ${times.at(-1).toFixed(2)} s\n`);
    }
    rows.push({ label, s: median(times) });
    return median(times);
  };

  const curl = (viaProxy, fsync = false) => async () => {
    const dest = join(out, 'curl.bin');
    const curlArgs = ['-sS', '-f', '--noproxy', viaProxy ? '' : '*', ...(viaProxy ? ['-x', viaProxy] : []), '-o', dest, url];
    // With fsync: the file durably on disk, as proxyctl leaves it (sync FILE = fsync(2)).
    const s = fsync ? timed('sh', ['-c', `curl ${curlArgs.map((a) => `'${a}'`).join(' ')} && sync '${dest}'`]) : timed('curl', curlArgs);
    rmSync(dest, { force: true });
    return s;
  };
  const proxyctl = (agent) => async (i) => {
    const s = timed(process.execPath, [bin, 'download', 'add', url, '--dest', `run-${i}.bin`, '--sha256', sha, '--wait', '--socket', agent.socket]);
    rmSync(join(agent.stateDir, 'downloads', `run-${i}.bin`), { force: true });
    return s;
  };

  // Two agents DIRECT: parts in state.db (the default; created with 64 KiB pages), and in a DB
  // file of their own (downloads.db_path, also 64 KiB pages for 4 MiB parts).
  const direct = await startAgent('direct', 'DIRECT');
  const own = await startAgent('own-db', 'DIRECT', { db_path: 'downloads.db' });
  const c1 = await measure('curl -o (direct)', curl(null));
  const c1s = await measure('curl -o && sync FILE (direct)', curl(null, true));
  await measure('proxyctl download add --wait (direct)', proxyctl(direct));
  await measure('proxyctl, db_path downloads.db (direct)', proxyctl(own));
  let c2;
  if (proxy) {
    const via = await startAgent('proxy', proxy.url);
    c2 = await measure(`curl -x ${proxy.name} -o`, curl(proxy.url));
    await measure(`proxyctl via ${proxy.name}`, proxyctl(via));
  }

  console.log(`\nbench/download — ${sizeMiB} MiB from ${origin.name}, part_size ${partSize}, median of ${runs} run(s), node ${process.version}`);
  console.log('fetcher                                         wall s     MiB/s   × curl   × curl+sync');
  for (const r of rows) {
    const viaProxy = proxy && r.label.includes(proxy.name);
    const peer = viaProxy ? c2 : c1;
    const peerSync = viaProxy ? null : c1s;
    console.log(`${r.label.padEnd(46)}${r.s.toFixed(2).padStart(8)}${(sizeMiB / r.s).toFixed(0).padStart(10)}${(peer / r.s).toFixed(2).padStart(9)}${peerSync ? (peerSync / r.s).toFixed(2).padStart(13) : '            -'}`);
  }
  console.log('proxyctl includes CLI start-up, SQLite parts (WAL; checkpoints in a worker thread), <dest>.partial written and hashed as parts commit, fsync and rename;');
  console.log('curl only writes the file into the page cache ("curl && sync" adds the fsync proxyctl does).');
  console.log('goal: proxyctl ≥ 0.80 × curl');
} finally {
  for (const c of children) c.kill('SIGTERM');
  for (const f of cleanups) f();
  await sleep(300);
  rmSync(work, { recursive: true, force: true });
}
