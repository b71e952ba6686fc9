import { MovingRate } from '../../stats/moving-rate.js';
import { DATA_PROXY_METHODS, NOTE_METHODS, type DataProxyMethod, type DataStoreStats, type NoteMethod, type RequestStats } from './protocol.js';
import { shardId } from './shard-hash.js';

function snapshot(r: MovingRate): RequestStats {
  return { total: r.total, rate_1s: r.rate1s(), rate_10s: r.rate10s() };
}

function rates<K extends string>(keys: readonly K[]): Record<K, MovingRate> {
  return Object.fromEntries(keys.map((k) => [k, new MovingRate()])) as Record<K, MovingRate>;
}

/**
 * The data proxy's own counters: calls per method, and store accesses per shard
 * per note method (ListNotes touches every shard). `tick()` once a second
 * closes the rate buckets; `export()` is the ExportShardStats reply.
 */
export class DataStoreCounters {
  readonly #methods = rates(DATA_PROXY_METHODS);
  readonly #shards: Array<Record<NoteMethod, MovingRate>>;
  maxConcurrent = 0;

  constructor(shardCount: number) {
    this.#shards = Array.from({ length: shardCount }, () => rates(NOTE_METHODS));
  }

  call(method: DataProxyMethod): void {
    this.#methods[method].mark();
  }

  shard(index: number, method: NoteMethod): void {
    this.#shards[index]![method].mark();
  }

  allShards(method: NoteMethod): void {
    for (const s of this.#shards) s[method].mark();
  }

  tick(): void {
    for (const r of Object.values(this.#methods)) r.tick();
    for (const s of this.#shards) for (const r of Object.values(s)) r.tick();
  }

  export(pid: number, version: string): DataStoreStats {
    const shards: DataStoreStats['shards'] = {};
    this.#shards.forEach((s, i) => {
      shards[shardId(i)] = Object.fromEntries(NOTE_METHODS.map((m) => [m, snapshot(s[m])])) as Record<NoteMethod, RequestStats>;
    });
    const methods = Object.fromEntries(DATA_PROXY_METHODS.map((m) => [m, snapshot(this.#methods[m])])) as Record<DataProxyMethod, RequestStats>;
    return { pid, version, shards, methods, max_concurrent_calls: this.maxConcurrent };
  }
}
