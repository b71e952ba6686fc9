/**
 * The app proxies' data plane, behind one interface. Two engines implement it:
 *
 *   native  the C++ addon (native/): epoll threads accept, balance, connect and
 *           relay (splice for bulk, read/write for small messages, a C++ Foo
 *           scanner); bytes never enter JavaScript.
 *   node    the TypeScript relay on node:net: the portable fallback.
 *
 * Policy stays above this line (src/forward/app.ts, forward.ts): health checks,
 * which targets are usable, admin states, reload diffing, stats registration.
 * The engine is told the result as an immutable snapshot (`EngineApp.publish`)
 * and reports back through counters (memory it writes and JS reads without a
 * call per event) and batched events (`AppEvents`).
 *
 * Ownership: Forward owns the engine and the listeners; each App owns its
 * EngineApp and the EngineTargets it created. A target or app the policy has
 * forgotten lives on in the engine until its last connection closed.
 */

export type EngineKind = 'native' | 'node';
export type BalanceMode = 'round-robin' | 'random' | 'least-conn' | 'sharding';

/** An app's settings as the engine applies them to new connections (open ones keep theirs). */
export interface EngineAppOptions {
  readonly protocol: 'tcp' | 'foo';
  readonly balance: BalanceMode;
  readonly connectTimeoutMs: number;
  /** Both directions quiet this long → both sides closed. */
  readonly idleTimeoutMs: number;
  /** One side has sent its FIN and nothing moved this long → both sides closed (HAProxy client-fin/server-fin). */
  readonly halfClosedTimeoutMs: number;
  readonly maxConnections: number;
  /** foo mode: close the connection at a malformed client line (else forward it). */
  readonly fooCloseOnInvalid: boolean;
  /** foo mode: a longer line closes the connection. */
  readonly fooMaxLine: number;
}

/**
 * Indices into an app's counters (native/engine.h's AppField in the same
 * order). `active` is a gauge; the rest only grow.
 * rejected_max: over max_connections; rejected_fd: the agent ran out of file
 * descriptors (never blamed on a target); no_target: no usable or reachable target.
 */
export const APP = {
  active: 0,
  total: 1,
  rejected_max: 2,
  rejected_fd: 3,
  no_target: 4,
  connect_failures: 5,
  bytes_in: 6,
  bytes_out: 7,
  msg_req: 8,
  msg_ack: 9,
  msg_nak: 10,
  msg_invalid: 11,
  /** Client connections taken on (not rejected): they get a target or count as no_target. */
  accepted: 12,
} as const;
export const APP_FIELDS = 13;

/** Indices into a target's counters (`active` is a gauge). */
export const TARGET = {
  active: 0,
  total: 1,
  bytes_in: 2,
  bytes_out: 3,
  connect_failures: 4,
} as const;
export const TARGET_FIELDS = 5;

/** Counters the engine keeps; reading one is a memory read (summed over threads), never a call into the engine's threads. */
export interface CounterView {
  get(field: number): number;
}

/** A backend the engine may connect to: created by its app, shared by every snapshot that lists it. */
export interface EngineTarget {
  /** The target as the app names it (normalised `host:port`): sharding hashes it. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly counters: CounterView;
}

/**
 * What the engine reports to an app's policy. Calls arrive on the JS thread,
 * batched (at most one wake-up per event-loop turn for the native engine).
 */
export interface AppEvents {
  /**
   * A connect to `target` failed (refused, reset, timed out): passive health.
   * `totalAtFailure` is the target's `total` counter at that moment, so the
   * policy can tell whether a connect succeeded since the previous failure.
   * Running out of the agent's own descriptors is never reported here.
   */
  connectFailed(target: EngineTarget, reason: string, totalAtFailure: number): void;
  /** A target passed to `watchIdle` has no connection left. */
  targetIdle(target: EngineTarget): void;
  /** The app was retired and its last connection closed. */
  appIdle(): void;
}

/** One open connection, for `app sessions`. */
export interface ConnectionInfo {
  /** ip:port of the client. */
  client: string;
  /** The target as the app names it; empty while connecting. */
  target: string;
  /** connecting, open (both directions), half-closed (one FIN relayed). */
  state: 'connecting' | 'open' | 'half-closed';
  age_ms: number;
  bytes_in: number;
  bytes_out: number;
}

export interface EngineApp {
  readonly counters: CounterView;
  /** A target handle; `host` is an IP address (the policy resolves names first). */
  createTarget(address: string, host: string, port: number): EngineTarget;
  /**
   * Publishes options and the usable targets in the app's order with their
   * weights (1-256, parallel to `usable`; a weight-0 target is not usable),
   * as one immutable snapshot swapped in atomically: new connections balance
   * over it (balancer.ts); an open connection keeps the target it has.
   */
  publish(options: EngineAppOptions, usable: readonly EngineTarget[], weights: readonly number[]): void;
  /** Reports `targetIdle(t)` once `t` has no connection (at once if it has none). */
  watchIdle(target: EngineTarget): void;
  /** Forgets a target the policy dropped; connections using it keep it until they close. */
  releaseTarget(target: EngineTarget): void;
  /** Reports `appIdle()` once the app has no connection (at once if it has none). Listeners are closed separately. */
  retire(): void;
  /** Cuts every connection of the app, both sides. */
  closeConnections(): void;
  /** A snapshot of open connections, at most `limit`. */
  listConnections(limit: number): Promise<ConnectionInfo[]>;
}

/** A listening socket; its accepted connections go to its current app. */
export interface EngineListener {
  /** The bound port (the kernel's choice when 0 was asked). */
  readonly port: number;
  /** Hands the port to another app (reload moved it); no accept is lost. */
  setApp(app: EngineApp): void;
  /** Stops accepting; open connections are not touched. */
  close(): void;
}

/** Why a listen failed: `code` is the errno name (EADDRINUSE, EACCES, EADDRNOTAVAIL, EINVAL…). */
export class ListenError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ListenError';
  }
}

export interface Engine {
  readonly kind: EngineKind;
  /** Event-loop threads relaying (1 for node). */
  readonly threads: number;
  createApp(name: string, events: AppEvents): EngineApp;
  /**
   * Binds and listens on an IP address; rejects with a ListenError. `backlog`: connections
   * the kernel queues before they are accepted (it caps it at net.core.somaxconn).
   */
  listen(host: string, port: number, app: EngineApp, backlog: number): Promise<EngineListener>;
  /** Every listener must be closed and every connection cut before; stops the engine's threads. */
  close(): Promise<void>;
}
