import { rendezvousOrder, rendezvousWeight } from '../net/rendezvous.js';

/**
 * Load-balancing order of an app's usable targets for one new connection. The
 * first element is the choice; the rest are the fallbacks tried in turn when
 * a connect fails. native/balance.h makes the same choices from the same
 * inputs (test/unit/forward/native-parity checks them side by side).
 *
 * Weights (1-256; a weight-0 target is not usable, so never here):
 *   round-robin  smooth weighted round-robin (nginx's, HAProxy's roundrobin
 *                gives the same shares): weights 3:1 go a a b a, interleaved,
 *                never a burst of three. The sequence is precomputed per
 *                snapshot (`schedule`) and walked by one counter, which the
 *                native engine's threads share as an atomic.
 *   random       a uniform pick from the same schedule: each target is chosen
 *                with probability weight / sum of weights.
 *   least-conn   the lowest (active + 1) / weight, as HAProxy's leastconn;
 *                ties go round-robin.
 *   sharding     weighted rendezvous hashing: each target scores
 *                weight / -ln(u) with u the key's hash against it, so its key
 *                share is proportional to its weight, and removing a target
 *                still moves only its own keys.
 * Fallbacks follow the choice in the app's target order (round-robin,
 * random), by score (least-conn, sharding).
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

/** A snapshot's usable targets with their weights, and the round-robin sequence over them. */
export interface BalanceTable<T> {
  readonly targets: readonly T[];
  /** 1-256 each, parallel to `targets`. */
  readonly weights: readonly number[];
  /** Target indices, each weight/gcd times, interleaved (smooth weighted round-robin). */
  readonly schedule: Uint16Array;
  /** Every weight is the same: sharding keeps its unweighted (integer) order. */
  readonly uniform: boolean;
}

/**
 * `previous`: the table this one replaces; its schedule is reused when the
 * weights are the same (most publishes change a target's state, not the
 * weights, and a schedule of many large weights takes milliseconds to make).
 */
export function balanceTable<T>(targets: readonly T[], weights: readonly number[], previous?: BalanceTable<unknown> | null): BalanceTable<T> {
  const w = targets.map((_, i) => Math.min(256, Math.max(1, Math.trunc(weights[i] ?? 1))));
  const same = previous != null && previous.weights.length === w.length && previous.weights.every((x, i) => x === w[i]);
  return { targets, weights: w, schedule: same ? previous.schedule : swrrSchedule(w), uniform: w.every((x) => x === w[0]) };
}

/**
 * Smooth weighted round-robin (nginx, ngx_http_upstream_get_peer): every
 * step each target's current weight grows by its weight, the largest is
 * picked (the first on a tie) and loses the total. Weights are divided by
 * their gcd first, so 2:2 is 1:1. Equal weights give 0, 1, …, n-1.
 */
export function swrrSchedule(weights: readonly number[]): Uint16Array {
  const n = weights.length;
  if (n === 0) return new Uint16Array(0);
  const g = weights.reduce((a, b) => gcd(a, b));
  // Typed arrays: 256 targets of large, coprime weights make ~11 M steps (tens of ms, once per change of weights); ten targets weighing 1-10, ~30 µs.
  const w = Int32Array.from(weights, (x) => x / g);
  const total = w.reduce((a, b) => a + b, 0);
  const out = new Uint16Array(total);
  const current = new Int32Array(n);
  for (let k = 0; k < total; k++) {
    let best = 0;
    let max = -0x7fffffff;
    for (let i = 0; i < n; i++) {
      const c = (current[i] = current[i]! + w[i]!);
      if (c > max) {
        max = c;
        best = i;
      }
    }
    current[best] = max - total;
    out[k] = best;
  }
  return out;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The indices of `table.targets` in the order to try them. `start` is the
 * round-robin position (or a random number, for random); `key` the client
 * address (sharding); `active(i)` the open connections of target i.
 */
export function balanceOrder<T extends Balanceable>(mode: BalanceMode, table: BalanceTable<T>, start: number, key: string): number[] {
  const { targets, weights, schedule } = table;
  const n = targets.length;
  if (n === 0) return [];
  switch (mode) {
    case 'round-robin':
    case 'random':
      return rotation(n, schedule[start % schedule.length]!);
    case 'least-conn': {
      // Stable, like native's std::stable_sort: ties keep the rotated order.
      const load = targets.map((t) => t.active + 1);
      return rotation(n, start % n).sort((a, b) => load[a]! * weights[b]! - load[b]! * weights[a]!);
    }
    case 'sharding': {
      const h = targets.map((t) => rendezvousWeight(key, t.address));
      if (table.uniform) return rotation(n, 0).sort((a, b) => (h[b]! > h[a]! ? 1 : h[b]! < h[a]! ? -1 : 0));
      const score = h.map((x, i) => weightedScore(x, weights[i]!));
      return rotation(n, 0).sort((a, b) => score[b]! - score[a]!);
    }
  }
}

/** A target's weighted rendezvous score: weight / -ln(u), u in (0, 1) from the hash's top 52 bits (exact in a double). */
function weightedScore(h: bigint, weight: number): number {
  const u = (Number(h >> 12n) + 0.5) / 2 ** 52;
  return weight / -Math.log(u);
}

export class Balancer<T extends Balanceable> {
  readonly mode: BalanceMode;
  #next = 0;

  constructor(mode: BalanceMode) {
    this.mode = mode;
  }

  /** The targets of `table` in the order to try them; `clientKey` is the client address (sharding). Returns a new array. */
  order(table: BalanceTable<T>, clientKey: string): T[] {
    const n = table.targets.length;
    if (n <= 1) return table.targets.slice();
    let start = 0;
    if (this.mode === 'random') start = Math.floor(Math.random() * 0x100000000);
    else if (this.mode !== 'sharding') {
      start = this.#next++;
      if (this.#next >= 0x3fffffff) this.#next = 0;
    }
    return balanceOrder(this.mode, table, start, clientKey).map((i) => table.targets[i]!);
  }
}

function rotation(n: number, start: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = (start + i) % n;
  return out;
}

/** Targets by rendezvous weight for `key`, highest first (src/net/rendezvous.ts). */
export function rendezvous<T extends { readonly address: string }>(targets: readonly T[], key: string): T[] {
  return rendezvousOrder(key, targets.map((t) => t.address)).map((i) => targets[i]!);
}

/** The part of a client address that identifies the client for sharding: its IP, not its ephemeral port. */
export function clientKey(remoteAddress: string | undefined): string {
  return remoteAddress ?? '';
}
