import type { StatsScope } from '../stats/registry.js';
import type { DataStoreStats, RequestStats } from './data-proxy/protocol.js';

/**
 * A service's merged view of its instances' ExportShardStats. Every instance
 * counts only what it served, and all of them share the shards, so a shard's
 * total is the sum over the live instances' last reports plus what retired
 * instances had reported before they stopped (totals never go down across a
 * deploy); its rate is the sum of the live instances' rates.
 *
 * In `proxyctl stats`: services.<name>.shards.<shard>.{total, rate_1s, rate_10s,
 * <Method>_total} and services.<name>.instances.v<N>.{<Method>_total, <Method>_rate_1s}.
 */

export interface ShardTotals {
  total: number;
  rate_1s: number;
  rate_10s: number;
  methods: Record<string, RequestStats>;
}

export interface InstanceRequests {
  /** Calls of each NoteStore method this instance answered. */
  methods: Record<string, RequestStats>;
  /** Note calls per second over the last closed second (all methods). */
  rate_1s: number;
  total: number;
}

const zero = (): RequestStats => ({ total: 0, rate_1s: 0, rate_10s: 0 });

function isRequestStats(v: unknown): v is RequestStats {
  return v !== null && typeof v === 'object' && typeof (v as RequestStats).total === 'number';
}

export class ServiceShardStats {
  readonly #scope: StatsScope;
  /** Per shard, per method: totals of instances that are gone. */
  readonly #retired = new Map<string, Map<string, number>>();
  readonly #live = new Map<string, DataStoreStats>();
  readonly #shardScopes = new Map<string, StatsScope>();
  readonly #instanceScopes = new Map<string, { scope: StatsScope; methods: Set<string> }>();
  readonly #noteMethods: readonly string[];

  constructor(scope: StatsScope, noteMethods: readonly string[]) {
    this.#scope = scope;
    this.#noteMethods = noteMethods;
  }

  /**
   * Takes an instance's latest ExportShardStats reply (malformed parts are
   * skipped). An instance is named by its version (`2`, stats key `v2`) or
   * its key (`v2#1`, the second instance of v2).
   */
  ingest(instance: number | string, stats: DataStoreStats): void {
    const version = keyOf(instance);
    if (stats === null || typeof stats !== 'object' || stats.shards === null || typeof stats.shards !== 'object') return;
    this.#live.set(version, stats);
    for (const shard of Object.keys(stats.shards)) this.#ensureShard(shard);
    this.#ensureInstance(version);
  }

  /** The instance stopped: its totals move to the retired base, its rates and per-instance stats go. */
  retire(instance: number | string): void {
    const version = keyOf(instance);
    const last = this.#live.get(version);
    this.#live.delete(version);
    if (last) {
      for (const [shard, methods] of Object.entries(last.shards)) {
        const base = this.#retired.get(shard) ?? new Map<string, number>();
        for (const [m, r] of Object.entries(methods ?? {})) if (isRequestStats(r)) base.set(m, (base.get(m) ?? 0) + r.total);
        this.#retired.set(shard, base);
      }
    }
    this.#instanceScopes.get(version)?.scope.remove();
    this.#instanceScopes.delete(version);
  }

  shards(): Record<string, ShardTotals> {
    const out: Record<string, ShardTotals> = {};
    const names = new Set([...this.#retired.keys(), ...[...this.#live.values()].flatMap((s) => Object.keys(s.shards))]);
    for (const shard of [...names].sort(compareShard)) out[shard] = this.#shard(shard);
    return out;
  }

  instance(instance: number | string): InstanceRequests | null {
    const s = this.#live.get(keyOf(instance));
    if (!s) return null;
    const methods: Record<string, RequestStats> = {};
    let rate = 0;
    let total = 0;
    for (const m of this.#noteMethods) {
      const r = s.methods?.[m as keyof DataStoreStats['methods']];
      if (!isRequestStats(r)) continue;
      methods[m] = { total: r.total, rate_1s: r.rate_1s, rate_10s: r.rate_10s };
      rate += r.rate_1s;
      total += r.total;
    }
    return { methods, rate_1s: rate, total };
  }

  close(): void {
    this.#scope.scope('shards').remove();
    this.#scope.scope('instances').remove();
  }

  #shard(shard: string): ShardTotals {
    const methods: Record<string, RequestStats> = {};
    for (const [m, t] of this.#retired.get(shard) ?? []) (methods[m] ??= zero()).total += t;
    for (const s of this.#live.values()) {
      for (const [m, r] of Object.entries(s.shards[shard] ?? {})) {
        if (!isRequestStats(r)) continue;
        const acc = (methods[m] ??= zero());
        acc.total += r.total;
        acc.rate_1s += r.rate_1s;
        acc.rate_10s += r.rate_10s;
      }
    }
    let total = 0;
    let rate1 = 0;
    let rate10 = 0;
    for (const r of Object.values(methods)) {
      total += r.total;
      rate1 += r.rate_1s;
      rate10 += r.rate_10s;
    }
    return { total, rate_1s: rate1, rate_10s: Math.round(rate10 * 100) / 100, methods };
  }

  #ensureShard(shard: string): void {
    if (this.#shardScopes.has(shard)) return;
    const scope = this.#scope.scope('shards', { shard });
    this.#shardScopes.set(shard, scope);
    scope.gauge('total', `note calls that touched the shard, all instances`, () => this.#shard(shard).total);
    scope.gauge('rate_1s', 'note calls per second on the shard, last second, all live instances', () => this.#shard(shard).rate_1s);
    scope.gauge('rate_10s', 'note calls per second on the shard, last 10 s, all live instances', () => this.#shard(shard).rate_10s);
    for (const m of this.#noteMethods) scope.gauge(`${m}_total`, `${m} calls that touched the shard`, () => this.#shard(shard).methods[m]?.total ?? 0);
  }

  #ensureInstance(version: string): void {
    if (this.#instanceScopes.has(version)) return;
    const scope = this.#scope.scope('instances', { version });
    const methods = new Set<string>();
    this.#instanceScopes.set(version, { scope, methods });
    for (const m of this.#noteMethods) {
      scope.gauge(`${m}_total`, `${m} calls answered by this instance`, () => this.instance(version)?.methods[m]?.total ?? 0);
      scope.gauge(`${m}_rate_1s`, `${m} calls per second answered by this instance`, () => this.instance(version)?.methods[m]?.rate_1s ?? 0);
    }
  }
}

function keyOf(instance: number | string): string {
  return typeof instance === 'number' ? `v${instance}` : instance;
}

function compareShard(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
