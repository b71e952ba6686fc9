/**
 * The shape of the compiled addon (native/addon.cc), as native-engine.ts uses
 * it. Ids are small integers the addon hands out; counter blocks are
 * ArrayBuffers over the engine's own memory (see native/engine.h for the layout).
 */
export interface NativeEngineHandle {
  /** → [appId, counters] */
  createApp(): [number, ArrayBuffer];
  /** → [targetId, counters]; `ip` is an IPv4 or IPv6 address. */
  createTarget(appId: number, address: string, ip: string, port: number): [number, ArrayBuffer];
  /**
   * options: [foo, balance, connectTimeoutMs, idleMs, halfClosedMs, maxConnections, fooCloseOnInvalid, fooMaxLine];
   * weights parallel to targetIds (1-256); schedule: the smooth weighted round-robin sequence of indices into targetIds.
   */
  publish(appId: number, options: Float64Array, targetIds: Uint32Array, weights: Uint32Array, schedule: Uint16Array): void;
  /** True when the target is idle now (no event follows); else TARGET_IDLE comes later. */
  watchTarget(targetId: number): boolean;
  releaseTarget(targetId: number): void;
  /** True when the app is idle now (no event follows); else APP_IDLE comes later. */
  retireApp(appId: number): boolean;
  dropApp(appId: number): void;
  closeConnections(appId: number): void;
  listConnections(appId: number, limit: number): { client: string; target: string; state: 'connecting' | 'open' | 'half-closed'; age_ms: number; bytes_in: number; bytes_out: number }[];
  /** → [listenerId, boundPort], or a negative errno. */
  listen(ip: string, port: number, appId: number, backlog: number): [number, number] | number;
  setListenerApp(listenerId: number, appId: number): void;
  unlisten(listenerId: number): void;
  /** Frees snapshots, apps and listeners no worker can reach any more. */
  reclaim(): void;
  /** Stops the worker threads (closing what is left) and frees everything. */
  close(): void;
}

export interface NativeAddon {
  /** onEvents gets [kind, appId, targetId, errno, targetTotal] × n (kinds: 1 connect failed, 2 target idle, 3 app idle). */
  Engine: new (threads: number, onEvents: (events: Float64Array) => void) => NativeEngineHandle;
  raiseFdLimit(): { before: number; soft: number; hard: number } | null;
  /** The engine's balancing order (parity tests with balancer.ts); mode: 0 round-robin, 1 random, 2 least-conn, 3 sharding. */
  balanceOrder(mode: number, addresses: string[], actives: number[], weights: number[], schedule: number[], key: string, start: number): number[];
  /** The C++ Foo scanner over chunks → [verdict per chunk up to the first that stops the stream, req, ack, nak, invalid] (parity tests with foo-scanner.ts). */
  fooScan(chunks: Buffer[], fromClient: boolean, maxLine: number, closeOnInvalid: boolean): number[];
  layout: { shared: number; appStride: number; targetStride: number };
}
