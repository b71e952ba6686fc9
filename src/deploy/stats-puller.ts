import type { Logger } from 'pino';
import type { StatsScope } from '../stats/registry.js';
import { NOTE_METHODS } from './data-proxy/protocol.js';
import { RPC_METHOD_NOT_FOUND, RpcCallError } from '../net/json-rpc-client.js';
import type { InstanceClient } from './probe.js';
import { ServiceShardStats, type InstanceRequests, type ShardTotals } from './shard-stats.js';

/** How often a service's instances are asked for ExportShardStats. */
export const STATS_PULL_INTERVAL_MS = 2000;

/** What the puller needs of an instance. */
export interface PulledInstance {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly state: string;
}

/**
 * Pulls ExportShardStats from a service's ready instances every 2 s into
 * its shard totals (ServiceShardStats). An instance that answers "method not
 * found" is not asked again; one being retired is pulled once more first, so
 * the totals keep what it served since the last pull.
 */
export class StatsPuller {
  readonly #client: InstanceClient;
  readonly #log: Logger;
  readonly #stats: ServiceShardStats;
  readonly #live: () => Iterable<PulledInstance>;
  readonly #path: () => string;
  readonly #noStats = new WeakSet<PulledInstance>();
  readonly #timer: NodeJS.Timeout;
  #pulling = false;
  #closed = false;

  constructor(opts: { client: InstanceClient; log: Logger; stats: StatsScope; live: () => Iterable<PulledInstance>; path: () => string }) {
    this.#client = opts.client;
    this.#log = opts.log;
    this.#stats = new ServiceShardStats(opts.stats, NOTE_METHODS);
    this.#live = opts.live;
    this.#path = opts.path;
    this.#timer = setInterval(() => void this.pull(), STATS_PULL_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Pulls every live, ready instance once (the timer's job; public for tests). */
  async pull(): Promise<void> {
    if (this.#pulling || this.#closed) return;
    this.#pulling = true;
    try {
      await Promise.all([...this.#live()].filter((i) => i.state === 'ready').map((i) => this.pullOne(i)));
    } finally {
      this.#pulling = false;
    }
  }

  async pullOne(inst: PulledInstance): Promise<void> {
    if (this.#noStats.has(inst)) return;
    try {
      const stats = await this.#client.call(inst.host, inst.port, this.#path(), 'ExportShardStats', {}, { timeoutMs: 1500 });
      this.#stats.ingest(inst.key, stats);
    } catch (err) {
      if (err instanceof RpcCallError && err.rpcCode === RPC_METHOD_NOT_FOUND) this.#noStats.add(inst);
      else this.#log.debug({ instance: inst.key, err: (err as Error).message }, `ExportShardStats from ${inst.key} failed`);
    }
  }

  /** The instance is being stopped: its last counts, then its totals move to the retired base. */
  async retire(inst: PulledInstance): Promise<void> {
    if (inst.state === 'ready') await this.pullOne(inst);
    this.#stats.retire(inst.key);
  }

  instance(key: string): InstanceRequests | null {
    return this.#stats.instance(key);
  }

  shards(): Record<string, ShardTotals> {
    return this.#stats.shards();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#stats.close();
  }
}
