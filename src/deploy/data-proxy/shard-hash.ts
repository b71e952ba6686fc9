/**
 * Which shard holds a note: FNV-1a (32-bit) of the id's UTF-8 bytes, mod K.
 * Stable across processes and versions, so every instance sharing a --db finds
 * a note in the same file. Shard `i` lives in `<db>/shard-<i>.db` and its id
 * (in ExportShardStats) is the file name without `.db`: `shard-<i>`.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function fnv1a32(text: string): number {
  let h = FNV_OFFSET;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

export function shardIndexFor(id: string, shards: number): number {
  return fnv1a32(id) % shards;
}

export function shardId(index: number): string {
  return `shard-${index}`;
}

export function shardFileName(index: number): string {
  return `${shardId(index)}.db`;
}
