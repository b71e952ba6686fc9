import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from './wait.js';

/**
 * A real agent for integration tests: a child process running the built CLI
 * (`bin/run.js agent start`) on a temp state dir, driven over its real socket.
 * `npm test` builds first (pretest), so dist/ is current.
 */

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin', 'run.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestAgent {
  readonly stateDir: string;
  readonly socket: string;
  readonly configPath: string | null;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Everything the agent wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Runs the built CLI against this agent (PROXYCTL_SOCKET set). */
  cli(args: readonly string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<CliResult>;
  /** One talk line, the raw reply. */
  talk(line: string): Promise<string>;
  /** One JSON-RPC call on a fresh connection; throws an Error with `.rpc` on an error reply. */
  rpc<T = unknown>(method: string, params?: object): Promise<T>;
  /** Rewrites the config file (for reload tests). */
  writeConfig(config: unknown): void;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

export interface StartAgentOptions {
  /** Config object written to <stateDir>/config.json; omit for no config file. */
  config?: unknown;
  /** Reuse a state dir (restart after a crash). */
  stateDir?: string;
  extraArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
  logLevel?: string;
}

const live = new Set<TestAgent>();
const dirs = new Set<string>();

export function tempDir(prefix = 'pxc-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

export async function startAgent(opts: StartAgentOptions = {}): Promise<TestAgent> {
  const stateDir = opts.stateDir ?? tempDir();
  const socket = join(stateDir, 'agent.sock');
  let configPath: string | null = null;
  if (opts.config !== undefined) {
    configPath = join(stateDir, 'config.json');
    writeFileSync(configPath, typeof opts.config === 'string' ? opts.config : JSON.stringify(opts.config, null, 2));
  }
  const args = [BIN, 'agent', 'start', '--state-dir', stateDir, '--log-level', opts.logLevel ?? 'debug', ...(configPath ? ['--config', configPath] : []), ...(opts.extraArgs ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', PROXYCTL_SOCKET: '', ...opts.env } });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));

  const agent: TestAgent = {
    stateDir,
    socket,
    configPath,
    process: child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    cli: (cliArgs, o = {}) => runCli(cliArgs, { ...o, env: { PROXYCTL_SOCKET: socket, ...o.env } }),
    talk: (line) => talkLine(socket, line),
    rpc: (method, params) => rpcCall(socket, method, params),
    writeConfig: (config) => {
      if (!configPath) throw new Error('agent was started without a config file');
      writeFileSync(configPath, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
    },
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      live.delete(agent);
      return code;
    },
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
      live.delete(agent);
    },
  };
  live.add(agent);
  await waitFor(`agent socket ${socket}`, async () => {
    if (gone) throw new Error(`agent exited early:\n${err}`);
    return (await talkLine(socket, 'pid')).trim() === String(child.pid);
  }, { timeoutMs: 60_000 });
  return agent;
}

/**
 * Stops every agent still running and removes temp dirs: call from afterEach/afterAll.
 * Gracefully first, so the agent stops the service instances it launched (a
 * SIGKILLed agent leaves them running); SIGKILL only if it hangs.
 */
export async function cleanupAgents(): Promise<void> {
  await Promise.all(
    [...live].map(async (a) => {
      a.process.kill('SIGTERM');
      const hard = setTimeout(() => a.process.kill('SIGKILL'), 15_000);
      await a.exited;
      clearTimeout(hard);
      live.delete(a);
    }),
  );
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** Runs the built CLI (or `bin`, another tree's bin/run.js) to its exit. */
export function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; bin?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`proxyctl ${args.join(' ')} did not exit within ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.stdin.end(opts.input ?? '');
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

export function talkLine(socket: string, line: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const c = createConnection(socket);
    let reply = '';
    c.setEncoding('utf8');
    c.once('connect', () => c.write(line + '\n'));
    c.on('data', (d: string) => (reply += d));
    c.once('error', reject);
    c.once('close', () => resolvePromise(reply));
  });
}

export class RpcError extends Error {
  constructor(readonly rpc: { code: number; message: string; data?: { code: string } }) {
    super(rpc.message);
  }
}

export function rpcCall<T>(socket: string, method: string, params: object = {}): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const c = createConnection(socket);
    let buf = '';
    c.setEncoding('utf8');
    c.once('connect', () => c.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n'));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      c.destroy();
      const msg = JSON.parse(buf.slice(0, nl)) as { result?: T; error?: RpcError['rpc'] };
      if (msg.error) reject(new RpcError(msg.error));
      else resolvePromise(msg.result as T);
    });
    c.once('error', reject);
  });
}
