import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { waitFor } from './wait.js';

/**
 * Real terminals for the tests of prompts, the dashboard and foreground logs: tmux sessions,
 * driven through one control-mode client (`tmux -C`) per worker. Reading a screen is then a
 * line on a pipe, not a `tmux capture-pane` process: each was a fork of the large test worker
 * that blocked its loop (where in-process agents serve), one per poll of the screen.
 */

export const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;

export interface Terminal {
  readonly session: string;
  /** The visible pane, as text. */
  screen(): Promise<string>;
  /** tmux send-keys: literal text or key names (`Enter`, `C-c`). */
  keys(...keys: string[]): Promise<void>;
  /** Waits for a screen that passes `test`, and returns it. */
  waitScreen(what: string, test: (screen: string) => boolean, opts?: { timeoutMs?: number }): Promise<string>;
}

/** A tmux argument, quoted as tmux's parser reads it (sh-style: '…' with '\'' for a quote). */
const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** One `tmux -C` client: each command written on its stdin is answered by one %begin … %end (or %error) block. */
class ControlClient {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending: Array<{ resolve(out: string): void; reject(err: Error): void }> = [];
  #block: string[] | null = null;
  #partial = '';
  readonly exited: Promise<void>;

  constructor(session: string) {
    // The client's own session runs a sleep: it only carries the client.
    this.#child = spawn('tmux', ['-C', 'new-session', '-s', session, '-x', '80', '-y', '10', 'sleep 86400']);
    this.exited = new Promise((r) => this.#child.once('exit', () => r()));
    this.#child.stdout.setEncoding('utf8').on('data', (d: string) => this.#read(d));
    this.#child.on('exit', () => this.#pending.splice(0).forEach((p) => p.reject(new Error('tmux control client exited'))));
  }

  run(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#child.stdin.write(`${args.map(quote).join(' ')}\n`);
    });
  }

  #read(data: string): void {
    const lines = (this.#partial + data).split('\n');
    this.#partial = lines.pop()!;
    for (const line of lines) {
      // Flags 1: the block answers a command of this client (0: the session it started with).
      const m = /^%(begin|end|error) \d+ \d+ (\d+)$/.exec(line);
      if (m?.[1] === 'begin' && this.#block === null) this.#block = m[2] === '1' ? [] : null;
      else if (m && this.#block !== null) {
        const out = this.#block.join('\n');
        this.#block = null;
        const p = this.#pending.shift();
        if (m[1] === 'end') p?.resolve(out);
        else p?.reject(new Error(`tmux: ${out}`));
      } else if (this.#block !== null) this.#block.push(line);
      // anything else is a notification (%output, %sessions-changed, …)
    }
  }
}

let client: ControlClient | null = null;
const sessions = new Set<string>();

/** Runs `command` (a shell command line) in a new tmux session of `cols`×`rows`. */
export async function openTerminal(name: string, command: string, { cols = 160, rows = 40 } = {}): Promise<Terminal> {
  client ??= new ControlClient(`pxc-ctl-${process.pid}`);
  const c = client;
  const session = `pxc-${name}-${process.pid}`;
  await c.run('new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), command);
  sessions.add(session);
  const screen = () => c.run('capture-pane', '-p', '-t', session);
  return {
    session,
    screen,
    keys: async (...keys) => void (await c.run('send-keys', '-t', session, ...keys)),
    waitScreen: (what, test, { timeoutMs = 10_000 } = {}) =>
      waitFor(what, async () => {
        const s = await screen();
        return test(s) ? s : null;
      }, { timeoutMs, intervalMs: 50 }),
  };
}

/** Kills every session opened here and the control client: call from afterEach/afterAll. */
export async function closeTerminals(): Promise<void> {
  const c = client;
  if (!c) return;
  client = null;
  for (const s of sessions) await c.run('kill-session', '-t', s).catch(() => undefined);
  sessions.clear();
  // Killing its own session ends the client.
  await c.run('kill-session').catch(() => undefined);
  await c.exited;
}
