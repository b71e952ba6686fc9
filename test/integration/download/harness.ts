import { Writable } from 'node:stream';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../../src/config/load.js';
import { NO_EVENTS } from '../../../src/control/events.js';
import { CommandRegistry } from '../../../src/control/registry.js';
import type { SubsystemContext } from '../../../src/agent/subsystem.js';
import type { Subsystem } from '../../../src/agent/subsystem.js';
import type { JobView } from '../../../src/download/job.js';
import { createDownloads } from '../../../src/download/subsystem.js';
import type { Methods } from '../../../src/control/methods.js';
import { StateStore } from '../../../src/state/state-db.js';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { createUpstream } from '../../../src/upstream/subsystem.js';
import { tempDir } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The download queue in-process, wired as the agent wires it (upstream router,
 * downloads subsystem, the control registry in between) on a temp state dir:
 * commands go through the registry's validation as they would over the socket.
 * The clock of retries is injected: every backoff is recorded in `delays` and
 * waited for a hundredth of its length (at most 50 ms).
 */

export interface Harness {
  readonly stateDir: string;
  /** downloads.dir */
  readonly dir: string;
  readonly stats: StatsRegistry;
  /** Backoff delays the router asked for, in order. */
  readonly delays: number[];
  /** Log records (JSON objects) so far. */
  logs(): Array<Record<string, unknown>>;
  rpc<M extends keyof Methods>(method: M, params: Methods[M]['params']): Promise<Methods[M]['result']>;
  add(params: Methods['download.add']['params']): Promise<number>;
  info(id: number): Promise<JobView>;
  /** Waits until the job satisfies `pred` (default: ended). */
  wait(id: number, pred?: (j: JobView) => boolean, timeoutMs?: number): Promise<JobView>;
  /** Applies a new config as `agent reload` does. */
  reload(config: unknown): Promise<void>;
  /** Closes everything as an agent stop does, and starts again on the same state dir. */
  restart(config?: unknown): Promise<Harness>;
  close(): Promise<void>;
}

const open = new Set<Harness>();

export async function startHarness(config: unknown = {}, stateDir = tempDir('pxc-dl-')): Promise<Harness> {
  const cfg = parseConfig(config);
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const stats = new StatsRegistry();
  const registry = new CommandRegistry();
  const state = new StateStore(join(stateDir, 'state.db'));
  const ctx = { config: cfg, stateDir, stats, logger, state, events: NO_EVENTS };
  const delays: number[] = [];
  const upstream = createUpstream(ctx);
  const downloads = createDownloads(ctx, upstream.api, {
    sleep: (ms, signal) => {
      delays.push(ms);
      return new Promise((resolve, reject) => {
        const t = setTimeout(resolve, Math.min(50, ms / 100));
        signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
      });
    },
  });
  registry.add(...upstream.commands, ...downloads.commands);
  const subsystems: Subsystem[] = [upstream.subsystem, downloads.subsystem];
  for (const s of subsystems) await s.start();
  let closed = false;
  const h: Harness = {
    stateDir,
    dir: cfg.downloads.dir ?? join(stateDir, 'downloads'),
    stats,
    delays,
    logs: () => records,
    async rpc(method, params) {
      const command = registry.byMethod(method);
      if (!command) throw new Error(`no method ${method}`);
      return (await registry.invoke(command, params, { dialect: 'jsonrpc' })) as never;
    },
    async add(params) {
      return (await h.rpc('download.add', params)).id;
    },
    info: (id) => h.rpc('download.info', { id }),
    wait: (id, pred = (j) => ['done', 'failed', 'cancelled'].includes(j.state), timeoutMs = 30_000) =>
      waitFor(`job ${id}`, async () => {
        const j = await h.info(id);
        return pred(j) ? j : null;
      }, { timeoutMs, intervalMs: 10 }),
    async reload(next) {
      const c = parseConfig(next);
      for (const s of subsystems) await s.reload(c);
    },
    async restart(next = config) {
      await h.close();
      return startHarness(next, stateDir);
    },
    async close() {
      if (closed) return;
      closed = true;
      open.delete(h);
      for (const s of [...subsystems].reverse()) await s.close();
      state.close();
    },
  };
  open.add(h);
  return h;
}

/** Closes every harness still open (afterEach). */
export async function closeHarnesses(): Promise<void> {
  await Promise.all([...open].map((h) => h.close()));
}
