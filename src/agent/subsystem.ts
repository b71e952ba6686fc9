import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { EventPublisher } from '../control/events.js';
import type { AnyCommand } from '../control/registry.js';
import type { StatsRegistry } from '../stats/registry.js';
import type { StateStore } from '../state/state-db.js';

/** What the agent hands every subsystem when it is built. */
export interface SubsystemContext {
  /** The validated config at start; later configs arrive through `reload`. */
  readonly config: Config;
  readonly stateDir: string;
  readonly stats: StatsRegistry;
  readonly logger: Logger;
  readonly state: StateStore;
  /** Live events for control-socket subscribers (topics and payloads: src/control/events.ts). */
  readonly events: EventPublisher;
  /** agent start --allow-partial: an app port that cannot be opened is reported, not fatal. */
  readonly allowPartial?: boolean;
}

/**
 * A long-lived part of the agent. The agent starts subsystems in order, calls
 * `reload` with every new valid config (SIGHUP, `reload`), and closes them in
 * reverse order at shutdown, within the agent's stop deadline (see shutdown.ts).
 */
export interface Subsystem {
  readonly name: string;
  start(): Promise<void>;
  /**
   * Applies a new, already validated config. Must not throw for per-item
   * problems: it applies what it can and returns the problems (e.g. a listener
   * it could not open), which make the reload answer with an error.
   */
  reload(config: Config): Promise<void | string[]>;
  close(): Promise<void>;
  /**
   * Called when close() overran the agent's stop deadline and the process is
   * about to exit: let go of what would outlive it (SIGKILL child processes).
   */
  abort?(): void;
  /**
   * Config keys this subsystem overrides at run time (dotted paths, e.g.
   * `proxy.timeout`) with their values, for `parameters`.
   */
  runtimeParameters?(): Record<string, unknown>;
  /** The data-plane engine, for `agent status` (forward only). */
  readonly engine?: string;
}

/**
 * What every `createX(ctx, deps)` returns: the subsystem the agent starts,
 * reloads and closes; its control commands, which the agent registers with
 * all the others before the socket answers (src/agent/command-list.ts); and,
 * for a subsystem another one uses, the API it hands over (its api.ts type).
 * `commands` keeps its tuple type: the CLI's `Methods` is derived from it.
 */
export interface SubsystemParts<S extends Subsystem = Subsystem, C extends readonly AnyCommand[] = readonly AnyCommand[], A = undefined> {
  readonly subsystem: S;
  readonly commands: C;
  readonly api: A;
}
