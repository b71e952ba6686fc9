import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest-random-weight) hashing, the one implementation: app
 * proxies shard clients over targets with it (`balance: sharding`, in both
 * engines) and the upstream list shards URLs over proxies (`policy:
 * sharding`). Every endpoint scores hash(key, endpoint) and the highest wins,
 * so a key lands on the same endpoint while it is usable, and removing one
 * moves only its keys.
 */

/** The first 8 bytes (big endian) of sha1(key "\0" address): native/balance.h's rendezvous_weight, bit for bit. */
export function rendezvousWeight(key: string, address: string): bigint {
  return createHash('sha1').update(key).update('\0').update(address).digest().readBigUInt64BE(0);
}

/** Indices of `addresses`, highest weight for `key` first; equal weights keep their given order. */
export function rendezvousOrder(key: string, addresses: readonly string[]): number[] {
  const w = addresses.map((a) => rendezvousWeight(key, a));
  return addresses.map((_, i) => i).sort((a, b) => (w[b]! > w[a]! ? 1 : w[b]! < w[a]! ? -1 : a - b));
}
