import { pino } from 'pino';
import { NO_EVENTS, type EventPublisher } from '../../../src/control/events.js';
import type { SubsystemContext } from '../../../src/agent/subsystem.js';
import { parseConfig } from '../../../src/config/load.js';
import { talkRenderers } from '../../../src/ui/render/talk.js';
import { CommandRegistry } from '../../../src/control/registry.js';
import type { AppInfo } from '../../../src/forward/app.js';
import { createForward, type Forward } from '../../../src/forward/forward.js';
import type { StateStore } from '../../../src/state/state-db.js';
import { StatsRegistry } from '../../../src/stats/registry.js';

/**
 * The forward subsystem in-process on real sockets, for either engine: the
 * forward tests run once per engine (`describe.each(ENGINES)`), so both data
 * planes pass the same suite. The native engine runs 2 threads here, so the
 * counters and balancing are exercised across threads.
 */
export const ENGINES = ['native', 'node'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface InProcessForward {
  fwd: Forward;
  stats: StatsRegistry;
  registry: CommandRegistry;
  info(app: string): AppInfo;
  /** The port an app listens on (its bound port: configs here may say 0). */
  port(app: string, index?: number): number;
  reload(config: Record<string, unknown>): Promise<string[]>;
  /** Closes it now (a restart in the middle of a test); closeForwards() skips it then. */
  close(): Promise<void>;
}

const running: (() => Promise<void>)[] = [];

/** Closes every Forward started by `startForward` (call in afterEach). */
export async function closeForwards(): Promise<void> {
  for (const c of running.splice(0).reverse()) await c();
}

function withEngine(config: Record<string, unknown>, engine: EngineName): unknown {
  const f = (config.forward ?? {}) as Record<string, unknown>;
  return { ...config, forward: { engine, threads: engine === 'native' ? 2 : 0, shutdown_grace: 0, ...f } };
}

/** A state DB in memory: what Forward keeps there (run-time target changes) without a file. */
export function memoryState(): StateStore {
  const kv = new Map<string, string>();
  const store = {
    get: <T>(key: string): T | undefined => (kv.has(key) ? (JSON.parse(kv.get(key)!) as T) : undefined),
    set: (key: string, value: unknown) => void kv.set(key, JSON.stringify(value)),
    delete: (key: string) => void kv.delete(key),
  };
  return store as unknown as StateStore;
}

export async function startForward(engine: EngineName, config: Record<string, unknown>, opts: { allowPartial?: boolean; state?: StateStore; events?: EventPublisher } = {}): Promise<InProcessForward> {
  const stats = new StatsRegistry();
  const registry = new CommandRegistry();
  // Talk replies laid out as the agent's entry point has them (src/ui/render/talk.ts).
  registry.useTalkRenderers(async () => talkRenderers);
  const ctx: SubsystemContext = {
    config: parseConfig(withEngine(config, engine)),
    stateDir: '/nonexistent',
    stats,
    logger: pino({ level: 'silent' }),
    state: opts.state ?? memoryState(),
    allowPartial: opts.allowPartial ?? false,
    events: opts.events ?? NO_EVENTS,
  };
  const { subsystem: fwd, commands } = createForward(ctx);
  registry.add(...commands);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fwd.close();
    stats.close();
  };
  try {
    await fwd.start();
  } catch (err) {
    await close();
    throw err;
  }
  running.push(close);
  return {
    fwd,
    stats,
    registry,
    info: (app) => fwd.app(app).info(),
    port: (app, index = 0) => fwd.app(app).info().ports[index]!.bound_port!,
    reload: (next) => fwd.reload(parseConfig(withEngine(next, engine))),
    close,
  };
}
