import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { LineSplitter, type LogLine } from './log-lines.js';

/**
 * One running version of a service: a child process on a free port, in its own
 * process group (a terminal's Ctrl-C reaches only the agent, which then stops
 * instances in order; a stop signals the whole group, so a wrapper script's
 * children stop too). Its output is handed to `onLine` line by line.
 */

export type InstanceState = 'starting' | 'ready' | 'stopping' | 'exited';

/** How long an exit waits for the last output in the instance's pipes. */
const STDIO_DRAIN_MS = 250;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Epoch ms. */
  at: number;
  /** True when the agent asked it to stop; false for an exit on its own (the service is degraded). */
  expected: boolean;
  /** Why it could not start or run (spawn error), if that is why it ended. */
  error: string | null;
}

export interface LaunchSpec {
  readonly service: string;
  readonly version: number;
  /** Which of the service's instances (0 … instances-1) this process is. */
  readonly slot: number;
  /** Argv with placeholders expanded; `--port N` is appended here. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | null;
  /** Address the instance listens on and the app connects to. */
  readonly host: string;
  readonly onLine: (line: LogLine) => void;
  /** Called once when the process has exited, expected or not. */
  readonly onExit: (instance: Instance, exit: ExitInfo) => void;
}

/** A port nobody listens on right now (the kernel's pick for port 0). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export class Instance {
  readonly service: string;
  readonly version: number;
  readonly slot: number;
  readonly host: string;
  readonly port: number;
  readonly launchedAt = Date.now();
  readyAt: number | null = null;
  #state: InstanceState = 'starting';
  #exit: ExitInfo | null = null;
  readonly #child: ChildProcess;
  readonly #exited: Promise<ExitInfo>;
  #stopRequested = false;
  #stopping: Promise<ExitInfo> | undefined;

  private constructor(spec: LaunchSpec, port: number) {
    this.service = spec.service;
    this.version = spec.version;
    this.slot = spec.slot;
    this.host = spec.host;
    this.port = port;
    const argv = [...spec.argv, '--port', String(port)];
    this.#child = spawn(argv[0]!, argv.slice(1), {
      cwd: spec.cwd ?? undefined,
      // PROXYCTL_AGENT_PID lets an instance notice a SIGKILLed agent (the built-in data proxy then stops).
      env: { ...process.env, ...spec.env, PORT: String(port), PROXYCTL_AGENT_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const splitter = new LineSplitter((line) => spec.onLine({ at: Date.now(), version: this.version, instance: this.slot, stream, line }));
      const s = this.#child[stream]!;
      s.setEncoding('utf8');
      s.on('data', (chunk: string) => splitter.write(chunk));
      s.on('end', () => splitter.end());
      s.on('error', () => undefined);
    }
    this.#exited = new Promise<ExitInfo>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null, error: string | null, at = Date.now()) => {
        if (this.#exit) return;
        this.#exit = { code, signal, at, expected: this.#stopRequested, error };
        this.#state = 'exited';
        spec.onExit(this, this.#exit);
        resolve(this.#exit);
      };
      // 'exit' can come before the last lines in its pipes: wait for them to close ('close'), but only
      // a moment, since a process of its own outside its group may hold them open.
      const closed = new Promise<void>((r) => this.#child.once('close', () => r()));
      this.#child.once('exit', (code, signal) => {
        const at = Date.now(); // when it exited, not when its pipes were drained
        void Promise.race([closed, delay(STDIO_DRAIN_MS, undefined, { ref: false })]).then(() => done(code, signal, null, at));
      });
      this.#child.once('error', (err) => done(null, null, `cannot run ${argv[0]}: ${err.message}`));
    });
  }

  /** Starts the process on a free port; it still has to pass its readiness probe. */
  static async launch(spec: LaunchSpec): Promise<Instance> {
    // spawn reports a missing cwd as "spawn <program> ENOENT", which blames the program.
    if (spec.cwd !== null && !statSync(spec.cwd, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`cwd ${spec.cwd} is not a directory`);
    return new Instance(spec, await freePort(spec.host));
  }

  /** `notes@v3`, or `notes@v3#2` for the third instance of v3. */
  get label(): string {
    return `${this.service}@${this.key}`;
  }

  /** `v3`, or `v3#2`: the instance among the service's (stats, events). */
  get key(): string {
    return this.slot === 0 ? `v${this.version}` : `v${this.version}#${this.slot}`;
  }

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  get pid(): number | null {
    return this.#child.pid ?? null;
  }

  get state(): InstanceState {
    return this.#state;
  }

  get exit(): ExitInfo | null {
    return this.#exit;
  }

  get exited(): Promise<ExitInfo> {
    return this.#exited;
  }

  markReady(): void {
    if (this.#state === 'starting') {
      this.#state = 'ready';
      this.readyAt = Date.now();
    }
  }

  /**
   * SIGTERM to the process group, SIGKILL after `timeoutMs` if it is still
   * running; resolves with how it ended. Idempotent.
   */
  stop(timeoutMs: number): Promise<ExitInfo> {
    if (this.#exit) return Promise.resolve(this.#exit);
    this.#stopping ??= (async () => {
      this.#stopRequested = true;
      this.#state = 'stopping';
      this.#signal('SIGTERM');
      const timer = setTimeout(() => this.#signal('SIGKILL'), timeoutMs);
      try {
        return await this.#exited;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.#stopping;
  }

  /** SIGKILL to the process group at once, stop() or not (the agent is about to exit). */
  kill(): void {
    this.#signal('SIGKILL');
  }

  #signal(sig: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined || this.#exit) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        this.#child.kill(sig);
      } catch {
        // already gone
      }
    }
  }
}
