import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { DataProxyServer } from '../../src/deploy/data-proxy/server.js';
import { packageVersion } from '../../src/version.js';
import { BIN } from './agent.js';
import { waitFor } from './wait.js';

/**
 * A real data proxy for tests: `proxyctl data-proxy --port 0` as a child
 * process (the built CLI), its port read from the one start line it prints.
 */

export interface TestDataProxy {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartDataProxyOptions {
  db: string;
  /** --port (default 0); null leaves it out, for $PORT in `env`. */
  port?: number | null;
  shards?: number;
  /** Hidden test hook: ms each note call holds the lock. */
  callDelayMs?: number;
  extraArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

const live = new Set<TestDataProxy>();

export async function startDataProxy(opts: StartDataProxyOptions): Promise<TestDataProxy> {
  const args = [BIN, 'data-proxy', '--db', opts.db];
  if (opts.port !== null) args.push('--port', String(opts.port ?? 0));
  if (opts.shards !== undefined) args.push('--shards', String(opts.shards));
  if (opts.callDelayMs !== undefined) args.push('--call-delay', String(opts.callDelayMs));
  args.push(...(opts.extraArgs ?? []));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...opts.env } });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let port: number | undefined;
  const started = waitFor('data proxy start line', () => {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/rpc/.exec(out);
    return m ? Number(m[1]) : undefined;
  }, { timeoutMs: 60_000 });
  const early = exited.then((code) => {
    if (port === undefined) throw new Error(`data proxy exited early (code ${code}):\n${out}${err}`);
    return port;
  });
  started.catch(() => undefined);
  early.catch(() => undefined);
  try {
    port = await Promise.race([started, early]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const dp: TestDataProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      live.delete(dp);
      return code;
    },
  };
  void exited.then(() => live.delete(dp));
  live.add(dp);
  return dp;
}

/** SIGKILLs every data proxy still running, but those in `keep` (shared by a describe block). */
export async function cleanupDataProxies(keep: ReadonlyArray<TestDataProxy | undefined> = []): Promise<void> {
  await Promise.all(
    [...live]
      .filter((dp) => !keep.includes(dp))
      .map(async (dp) => {
        dp.process.kill('SIGKILL');
        await dp.exited;
      }),
  );
}

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: { jsonrpc?: string; id?: unknown; result?: unknown; error?: { code: number; message: string; data?: { code: string } } } | undefined;
}

/** One raw HTTP request (no client logic): for error paths and headers. */
export function rawPost(url: string, body: string | Buffer, opts: { method?: string; path?: string; headers?: Record<string, string> } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const u = new URL(opts.path ?? '/rpc', url);
    const req = request(u, { method: opts.method ?? 'POST', headers: { 'Content-Type': 'application/json', ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: RawReply['json'];
        try {
          json = JSON.parse(text) as RawReply['json'];
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A data proxy built in this process (DataProxyServer on port 0), for tests of its methods and protocol, not of its process. */
export interface InProcessDataProxy {
  readonly url: string;
  readonly port: number;
  /** This process's pid, which Ready reports. */
  readonly pid: number;
  close(): Promise<void>;
}

const inProcess = new Set<InProcessDataProxy>();

export async function startDataProxyInProcess(opts: { db: string; shards?: number }): Promise<InProcessDataProxy> {
  const server = new DataProxyServer({ host: '127.0.0.1', port: 0, dbDir: resolve(opts.db), shards: opts.shards ?? 4, version: packageVersion() });
  const { port } = await server.listen();
  const dp: InProcessDataProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: process.pid,
    close: async () => {
      inProcess.delete(dp);
      await server.close();
    },
  };
  inProcess.add(dp);
  return dp;
}

/** Closes every in-process data proxy still open, but those in `keep`. */
export async function closeInProcessDataProxies(keep: ReadonlyArray<InProcessDataProxy | undefined> = []): Promise<void> {
  await Promise.all([...inProcess].filter((dp) => !keep.includes(dp)).map((dp) => dp.close()));
}
