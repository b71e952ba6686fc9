import { z } from 'zod';
import type { Logger } from 'pino';
import { parseHostPort, targetWeightSchema, type TargetSpec } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { StateStore } from '../state/state-db.js';
import type { TargetEntry } from './app.js';
import { normalise } from './app.js';

/**
 * Run-time changes to an app's targets (`target add`, `target remove`,
 * `target weight`), kept in the state DB under `forward.targets.<app>` until
 * `app reset APP`, as `proxy set` is kept until `proxy reset`. They are laid
 * over the config's targets at start and on every reload:
 *
 *   effective = config targets − remove, weights overridden by `weight`,
 *               + add (address → weight)
 *
 * so a reload that changes an app keeps what the operator did at run time,
 * and `app reset` returns the app to its config. A service's instances are
 * not here: deploys own them (their weight lives with the instance).
 */

/** What is kept per app. Addresses are normalised (`host:port`, IPv6 bracketed). */
export interface TargetOverrides {
  /** Targets added at run time → weight. */
  add: Record<string, number>;
  /** Config targets removed at run time. */
  remove: string[];
  /** Weights set at run time on config targets. */
  weight: Record<string, number>;
}

const address = z.string().refine((s) => parseHostPort(s) !== null);
const savedSchema = z
  .object({
    add: z.record(address, targetWeightSchema).default({}),
    remove: z.array(address).default([]),
    weight: z.record(address, targetWeightSchema).default({}),
  })
  .strict();

type Store = Pick<StateStore, 'get' | 'set' | 'delete'>;

export const stateKey = (app: string) => `forward.targets.${app}`;

export function empty(o: TargetOverrides): boolean {
  return Object.keys(o.add).length === 0 && o.remove.length === 0 && Object.keys(o.weight).length === 0;
}

/** The app's targets with the overrides applied, config order first, then the added ones. */
export function effectiveTargets(config: readonly TargetSpec[], o: TargetOverrides): TargetEntry[] {
  const removed = new Set(o.remove);
  const out = new Map<string, TargetEntry>();
  for (const c of config) {
    const a = normalise(c.address);
    if (removed.has(a) || out.has(a)) continue;
    out.set(a, { address: a, weight: o.weight[a] ?? c.weight, origin: 'static' });
  }
  for (const [a, weight] of Object.entries(o.add)) {
    const e = out.get(a);
    // The config lists it now too: one target, the operator's weight.
    if (e) e.weight = weight;
    else out.set(a, { address: a, weight, origin: 'runtime' });
  }
  return [...out.values()];
}

/**
 * The overrides of every app, read from and written to the state DB. Each
 * change is validated against the app's current targets, persisted, and only
 * then applied by the caller: a failed write changes nothing.
 */
export class RuntimeTargets {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #byApp = new Map<string, TargetOverrides>();

  constructor(store: Store, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** The app's overrides (read once from the state DB; a saved entry that no longer validates is dropped with a warning). */
  get(app: string): TargetOverrides {
    let o = this.#byApp.get(app);
    if (o) return o;
    const saved = this.#store.get<unknown>(stateKey(app));
    o = { add: {}, remove: [], weight: {} };
    if (saved !== undefined) {
      const parsed = savedSchema.safeParse(saved);
      if (parsed.success) {
        o = { add: renormalise(parsed.data.add), remove: [...new Set(parsed.data.remove.map(normalise))], weight: renormalise(parsed.data.weight) };
        if (!empty(o)) this.#logger.info({ app, overrides: o }, `app ${app}: run-time target changes restored (app reset drops them)`);
      } else {
        this.#logger.warn({ app, saved }, `app ${app}: saved run-time target changes dropped: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
        this.#store.delete(stateKey(app));
      }
    }
    this.#byApp.set(app, o);
    return o;
  }

  /**
   * `target add`: a new target, or a config target removed earlier coming
   * back. `present` is whether the app has it now (in any form).
   */
  add(app: string, config: readonly TargetSpec[], target: string, weight: number, present: boolean): void {
    if (present) throw new ProxyctlError('PXC_ERR_TARGET_EXISTS', `app "${app}" already has target ${target}`);
    const next = clone(this.get(app));
    const inConfig = config.find((c) => normalise(c.address) === target);
    if (inConfig) {
      next.remove = next.remove.filter((a) => a !== target);
      if (weight === inConfig.weight) delete next.weight[target];
      else next.weight[target] = weight;
    } else {
      next.add[target] = weight;
    }
    this.#save(app, next);
  }

  /** `target remove` of a config or added target (the caller checked it is one). */
  remove(app: string, config: readonly TargetSpec[], target: string): void {
    const next = clone(this.get(app));
    delete next.add[target];
    delete next.weight[target];
    if (config.some((c) => normalise(c.address) === target) && !next.remove.includes(target)) next.remove.push(target);
    this.#save(app, next);
  }

  /** `target weight` of a config or added target. */
  setWeight(app: string, config: readonly TargetSpec[], target: string, weight: number): void {
    const next = clone(this.get(app));
    if (target in next.add) next.add[target] = weight;
    else {
      const inConfig = config.find((c) => normalise(c.address) === target);
      if (inConfig && inConfig.weight === weight) delete next.weight[target];
      else next.weight[target] = weight;
    }
    this.#save(app, next);
  }

  /** `app reset`: back to the config. Returns whether there was anything to drop. */
  reset(app: string): boolean {
    const had = !empty(this.get(app));
    this.#store.delete(stateKey(app));
    this.#byApp.set(app, { add: {}, remove: [], weight: {} });
    return had;
  }

  #save(app: string, next: TargetOverrides): void {
    if (empty(next)) this.#store.delete(stateKey(app));
    else this.#store.set(stateKey(app), next);
    this.#byApp.set(app, next);
  }
}

function clone(o: TargetOverrides): TargetOverrides {
  return { add: { ...o.add }, remove: [...o.remove], weight: { ...o.weight } };
}

function renormalise(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([a, w]) => [normalise(a), w]));
}
