import { describe, expect, it } from 'vitest';
import { ServiceShardStats } from '../../../src/deploy/shard-stats.js';
import type { DataStoreStats } from '../../../src/deploy/data-proxy/protocol.js';
import { StatsRegistry } from '../../../src/stats/registry.js';

const r = (total: number, rate = 0) => ({ total, rate_1s: rate, rate_10s: rate });

function report(shards: Record<string, Record<string, number>>, methods: Record<string, number>, rate = 0): DataStoreStats {
  return {
    pid: 1,
    version: 'x',
    shards: Object.fromEntries(Object.entries(shards).map(([s, m]) => [s, Object.fromEntries(Object.entries(m).map(([k, v]) => [k, r(v, rate)]))])),
    methods: Object.fromEntries(Object.entries(methods).map(([k, v]) => [k, r(v, rate)])),
    max_concurrent_calls: 1,
  } as unknown as DataStoreStats;
}

describe('ServiceShardStats', () => {
  it('sums live instances per shard and keeps retired totals, so totals never drop across a deploy', () => {
    const registry = new StatsRegistry();
    const stats = new ServiceShardStats(registry.scope('services', { service: 'notes' }), ['ListNotes', 'CreateNote']);
    stats.ingest(1, report({ 'shard-0': { CreateNote: 5, ListNotes: 2 }, 'shard-1': { CreateNote: 1 } }, { CreateNote: 6, ListNotes: 2 }, 3));
    stats.ingest(2, report({ 'shard-0': { CreateNote: 1 } }, { CreateNote: 1 }, 1));
    expect(stats.shards()['shard-0']).toMatchObject({ total: 8, rate_1s: 7 });
    expect(stats.instance(1)).toMatchObject({ total: 8, rate_1s: 6 });

    stats.retire(1);
    expect(stats.instance(1)).toBeNull();
    expect(stats.shards()['shard-0']).toMatchObject({ total: 8, rate_1s: 1 });
    expect(stats.shards()['shard-1']).toMatchObject({ total: 1, rate_1s: 0 });

    const snap = registry.snapshot() as any;
    expect(snap.services.notes.shards['shard-0'].total).toBe(8);
    expect(snap.services.notes.shards['shard-0'].CreateNote_total).toBe(6);
    expect(snap.services.notes.instances.v2.CreateNote_total).toBe(1);
    expect(snap.services.notes.instances.v1).toBeUndefined();
    registry.close();
  });

  it('ignores a malformed report', () => {
    const registry = new StatsRegistry();
    const stats = new ServiceShardStats(registry.scope('services', { service: 's' }), ['ListNotes']);
    stats.ingest(1, { nonsense: true } as unknown as DataStoreStats);
    stats.ingest(2, report({ 'shard-0': { ListNotes: 'x' as unknown as number } }, {}));
    expect(stats.shards()['shard-0']).toMatchObject({ total: 0 });
    registry.close();
  });
});
