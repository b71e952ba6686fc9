import { createHash } from 'node:crypto';

/**
 * Load-balancing order of an app's usable targets for one new connection. The
 * first element is the choice; the rest are the fallbacks tried in turn when
 * a connect fails.
 */
export type { BalanceMode } from './engine/types.js';
import type { BalanceMode } from './engine/types.js';

/**
 * `address` is the target as the app names it (`host:port`, normalised): the
 * sharding hash is over it, in both engines. `active`: open connections.
 */
export interface Balanceable {
  readonly address: string;
  readonly active: number;
}

export class Balancer<T extends Balanceable> {
  readonly mode: BalanceMode;
  #next = 0;

  constructor(mode: BalanceMode) {
    this.mode = mode;
  }

  /**
   * `usable` in a stable order (the app's target list); `clientKey` is the
   * client address, used by `sharding`. Returns a new array.
   */
  order(usable: readonly T[], clientKey: string): T[] {
    const n = usable.length;
    if (n <= 1) return usable.slice();
    switch (this.mode) {
      case 'round-robin': {
        const start = this.#next++ % n;
        if (this.#next >= 0x3fffffff) this.#next = 0;
        return rotate(usable, start);
      }
      case 'random':
        return rotate(usable, Math.floor(Math.random() * n));
      case 'least-conn': {
        // Ties go round-robin so equal targets share the load.
        const start = this.#next++ % n;
        if (this.#next >= 0x3fffffff) this.#next = 0;
        return rotate(usable, start).sort((a, b) => a.active - b.active);
      }
      case 'sharding':
        return rendezvous(usable, clientKey);
    }
  }
}

function rotate<T>(a: readonly T[], start: number): T[] {
  const out = new Array<T>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[(start + i) % a.length]!;
  return out;
}

/**
 * Rendezvous (highest-random-weight) hashing: every target scores
 * hash(key, target) and the highest wins, so a key always lands on the same
 * target while it is usable, and removing a target moves only its keys.
 */
export function rendezvous<T extends { readonly address: string }>(targets: readonly T[], key: string): T[] {
  const scored = targets.map((t) => ({ t, w: weight(key, t.address) }));
  scored.sort((a, b) => (b.w > a.w ? 1 : b.w < a.w ? -1 : 0));
  return scored.map((s) => s.t);
}

function weight(key: string, address: string): bigint {
  return createHash('sha1').update(key).update('\0').update(address).digest().readBigUInt64BE(0);
}

/** The part of a client address that identifies the client for sharding: its IP, not its ephemeral port. */
export function clientKey(remoteAddress: string | undefined): string {
  return remoteAddress ?? '';
}
