import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/config/load.js';
import { talkRenderers } from '../../src/ui/render/talk.js';
import type { StepOutcome } from '../../src/agent/shutdown.js';
import { runCli, rpcCall, talkLine, tempDir, type CliResult } from './agent.js';
import { cliInProcess } from './cli-in-process.js';

/**
 * The whole agent (config, state dir lock, control socket, every subsystem)
 * built in the test's own process with `Agent.start`, on a temp state dir and
 * its real Unix socket: what a spawned agent does, without a node start
 * (~0.5 s, seconds under load) per test. Clients still speak to it over the
 * socket, and `cli()` still runs the built CLI against it, so the wire and the
 * CLI are what they are for users. Use `startAgent` (helpers/agent.ts) where
 * the process itself is under test: signals, exit codes, kill -9, stdout.
 */

export interface InProcessAgent {
  readonly agent: Agent;
  readonly stateDir: string;
  readonly socket: string;
  readonly configPath: string | null;
  /** The agent's pid: this process's. */
  readonly pid: number;
  /** Log lines (JSON) the agent wrote so far, as one string (what a spawned agent's stderr holds). */
  stderr(): string;
  cli(args: readonly string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string }): Promise<CliResult>;
  /**
   * The same CLI run in this process (helpers/cli-in-process.ts): the same output and exit code
   * without a node start. Runs are serialised: one that waits for something a later run does
   * must be a cli() run.
   */
  cliInProcess(args: readonly string[], opts?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  talk(line: string): Promise<string>;
  rpc<T = unknown>(method: string, params?: object): Promise<T>;
  writeConfig(config: unknown): void;
  /**
   * Closes the agent as SIGTERM would and resolves, once it is closed, with
   * the steps that did not close cleanly (failed or abandoned): [] is what a
   * spawned agent's exit 0 after a stop stands for.
   */
  stop(): Promise<StepOutcome[]>;
  /** Resolves once the agent has closed, by stop() or by a `shutdown` command. */
  readonly closed: Promise<void>;
}

export interface InProcessAgentOptions {
  config?: unknown;
  stateDir?: string;
  allowPartial?: boolean;
  logLevel?: string;
}

const live = new Set<InProcessAgent>();

export async function startInProcessAgent(opts: InProcessAgentOptions = {}): Promise<InProcessAgent> {
  const stateDir = opts.stateDir ?? tempDir();
  const socket = join(stateDir, 'agent.sock');
  let configPath: string | null = null;
  let json: unknown;
  if (opts.config !== undefined) {
    configPath = join(stateDir, 'config.json');
    writeFileSync(configPath, typeof opts.config === 'string' ? opts.config : JSON.stringify(opts.config, null, 2));
    json = typeof opts.config === 'string' ? JSON.parse(opts.config) : opts.config;
  }
  let log = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      log += chunk.toString('utf8');
      cb();
    },
  });
  const logger = pino({ level: opts.logLevel ?? 'debug', base: { pid: process.pid } }, sink);
  let stopping: Promise<StepOutcome[]> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let agent: Agent | undefined;
  const stop = (): Promise<StepOutcome[]> => {
    stopping ??= (async () => {
      live.delete(handle);
      const outcomes = (await agent?.close()) ?? [];
      resolveClosed();
      return outcomes.filter((o) => o.result !== 'closed');
    })();
    return stopping;
  };
  agent = await Agent.start({
    config: parseConfig(json ?? {}, configPath ?? 'defaults'),
    configPath,
    stateDir,
    socketPath: socket,
    logger,
    // As the entry point does: the reply goes out first, then the agent closes.
    onShutdownRequest: () => void setImmediate(() => void stop()),
    allowPartial: opts.allowPartial ?? false,
    // As `agent start` hands them in: talk replies laid out as a spawned agent lays them out.
    talkRenderers: async () => talkRenderers,
  });
  const started = agent;
  const handle: InProcessAgent = {
    agent: started,
    stateDir,
    socket,
    configPath,
    pid: process.pid,
    stderr: () => log,
    cli: (args, o = {}) => runCli(args, { ...o, env: { PROXYCTL_SOCKET: socket, ...o.env } }),
    cliInProcess: (args, o = {}) => cliInProcess(args, { socket, ...o }),
    talk: (line) => talkLine(socket, line),
    rpc: (method, params) => rpcCall(socket, method, params),
    writeConfig: (config) => {
      if (!configPath) throw new Error('agent was started without a config file');
      writeFileSync(configPath, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
    },
    stop,
    closed,
  };
  live.add(handle);
  return handle;
}

/** Closes every in-process agent still open: call from afterEach. */
export async function closeInProcessAgents(): Promise<void> {
  await Promise.all([...live].map((a) => a.stop()));
}
