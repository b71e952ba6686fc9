import { connect, createServer, type Server, type Socket } from 'node:net';
import { Balancer, balanceTable, type BalanceTable } from '../balancer.js';
import { FooScanner } from '../foo-scanner.js';
import { Pipe } from './node-relay.js';
import {
  APP,
  APP_FIELDS,
  ListenError,
  TARGET,
  TARGET_FIELDS,
  type AppEvents,
  type ConnectionInfo,
  type CounterView,
  type Engine,
  type EngineApp,
  type EngineAppOptions,
  type EngineListener,
  type EngineTarget,
} from './types.js';

/**
 * The node engine: the relay on node:net, in the agent's event loop. The
 * portable fallback of the native engine, with the same behaviour: balance
 * over the published snapshot, connect with a timeout and the next target on
 * failure, relay with backpressure and half-close, idle and half-closed
 * timeouts, foo counting with the TypeScript scanner.
 */

/** Counters in a plain Float64Array: the relay bumps them in place. */
class ArrayCounters implements CounterView {
  readonly a: Float64Array;
  constructor(n: number) {
    this.a = new Float64Array(n);
  }
  get(field: number): number {
    return this.a[field]!;
  }
}

/** Errors that mean the agent is out of descriptors: never the target's fault. */
const FD_LIMIT = new Set(['EMFILE', 'ENFILE']);

class NodeTarget implements EngineTarget {
  readonly c = new ArrayCounters(TARGET_FIELDS);
  watched = false;
  constructor(
    readonly host: string,
    readonly port: number,
    readonly address: string,
  ) {}
  get counters(): CounterView {
    return this.c;
  }
  /** For the balancer (least-conn). */
  get active(): number {
    return this.c.a[TARGET.active]!;
  }
}

interface Snapshot {
  readonly options: EngineAppOptions;
  readonly table: BalanceTable<NodeTarget>;
  readonly balancer: Balancer<NodeTarget>;
}

interface Conn {
  readonly client: Socket;
  upstream: Socket | null;
  target: NodeTarget | null;
  readonly since: number;
  /** Bytes seen at the last sweep, and when they last moved. */
  bytes: number;
  quietSince: number;
  /** A FIN was relayed in either direction. */
  halfClosed: boolean;
}

class NodeApp implements EngineApp {
  readonly c = new ArrayCounters(APP_FIELDS);
  readonly #events: AppEvents;
  #snap: Snapshot | null = null;
  readonly #conns = new Map<Socket, Conn>();
  #sweeper: NodeJS.Timeout | undefined;
  #sweepEveryMs = 0;
  #retired = false;

  constructor(
    readonly name: string,
    events: AppEvents,
  ) {
    this.#events = events;
  }

  get counters(): CounterView {
    return this.c;
  }

  createTarget(address: string, host: string, port: number): EngineTarget {
    return new NodeTarget(host, port, address);
  }

  publish(options: EngineAppOptions, usable: readonly EngineTarget[], weights: readonly number[]): void {
    const old = this.#snap;
    const balancer = old && old.options.balance === options.balance ? old.balancer : new Balancer<NodeTarget>(options.balance);
    this.#snap = { options, table: balanceTable(usable as readonly NodeTarget[], weights, old?.table), balancer };
    const every = Math.max(50, Math.min(Math.min(options.idleTimeoutMs, options.halfClosedTimeoutMs) / 4, 60_000));
    if (every !== this.#sweepEveryMs) this.#startSweeper(every);
  }

  watchIdle(target: EngineTarget): void {
    const t = target as NodeTarget;
    if (t.c.a[TARGET.active] === 0) this.#events.targetIdle(t);
    else t.watched = true;
  }

  releaseTarget(): void {
    // Nothing to free: connections hold the object; the GC does the rest.
  }

  retire(): void {
    this.#retired = true;
    if (this.#conns.size === 0) this.#idle();
  }

  closeConnections(): void {
    for (const conn of this.#conns.values()) {
      conn.client.destroy();
      conn.upstream?.destroy();
    }
  }

  listConnections(limit: number): Promise<ConnectionInfo[]> {
    const out: ConnectionInfo[] = [];
    const now = Date.now();
    for (const c of this.#conns.values()) {
      if (out.length >= limit) break;
      out.push({
        client: `${c.client.remoteAddress}:${c.client.remotePort}`,
        target: c.target ? c.target.address : '',
        state: c.upstream === null ? 'connecting' : c.halfClosed ? 'half-closed' : 'open',
        age_ms: now - c.since,
        bytes_in: c.client.bytesRead,
        bytes_out: c.client.bytesWritten,
      });
    }
    return Promise.resolve(out);
  }

  /** An accepted client socket (from any of the app's listeners). */
  accept(client: Socket): void {
    const a = this.c.a;
    const snap = this.#snap;
    if (snap === null || this.#conns.size >= snap.options.maxConnections) {
      a[APP.rejected_max]++;
      client.destroy();
      return;
    }
    a[APP.accepted]++;
    const now = Date.now();
    const conn: Conn = { client, upstream: null, target: null, since: now, bytes: -1, quietSince: now, halfClosed: false };
    this.#conns.set(client, conn);
    a[APP.active]++;
    client.once('close', () => {
      this.#conns.delete(client);
      a[APP.active]--;
      if (this.#conns.size === 0 && this.#retired) this.#idle();
    });
    client.on('error', () => undefined); // 'close' follows; the upstream side is destroyed there
    // getpeername is a syscall: only sharding needs the client's address.
    const order = snap.balancer.order(snap.table, snap.options.balance === 'sharding' ? (client.remoteAddress ?? '') : '');
    this.#connectTo(conn, snap.options, order, 0);
  }

  /** Tries `order[i]`, then the next ones; none left → the client is closed at once. */
  #connectTo(conn: Conn, opts: EngineAppOptions, order: readonly NodeTarget[], i: number): void {
    const client = conn.client;
    if (client.destroyed) return;
    const target = order[i];
    if (target === undefined) {
      this.c.a[APP.no_target]++;
      client.destroy();
      return;
    }
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    let settled = false;
    const fail = (why: string, code: string | undefined) => {
      if (settled) return;
      settled = true;
      upstream.destroy();
      if (code !== undefined && FD_LIMIT.has(code)) {
        // Our descriptors ran out, not the target: count, close the client, blame no one.
        this.c.a[APP.rejected_fd]++;
        client.destroy();
        return;
      }
      this.c.a[APP.connect_failures]++;
      target.c.a[TARGET.connect_failures]++;
      this.#events.connectFailed(target, why, target.c.a[TARGET.total]!);
      this.#connectTo(conn, opts, order, i + 1);
    };
    upstream.setTimeout(opts.connectTimeoutMs);
    upstream.once('timeout', () => fail(`connect timed out after ${opts.connectTimeoutMs / 1000} s`, undefined));
    upstream.once('error', (e: NodeJS.ErrnoException) => fail(`connect: ${e.code ?? e.message}`, e.code));
    upstream.once('connect', () => {
      if (settled) return;
      settled = true;
      upstream.removeAllListeners('timeout');
      upstream.removeAllListeners('error');
      upstream.setTimeout(0);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.#relay(conn, upstream, target, opts);
    });
  }

  #relay(conn: Conn, upstream: Socket, target: NodeTarget, opts: EngineAppOptions): void {
    const client = conn.client;
    const a = this.c.a;
    const t = target.c.a;
    conn.upstream = upstream;
    conn.target = target;
    a[APP.total]++;
    t[TARGET.active]++;
    t[TARGET.total]++;
    let fromClient: FooScanner | null = null;
    let fromServer: FooScanner | null = null;
    if (opts.protocol === 'foo') {
      fromClient = new FooScanner(true, a, opts.fooMaxLine, opts.fooCloseOnInvalid);
      fromServer = new FooScanner(false, a, opts.fooMaxLine, false);
    }
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    const onClose = (hadError: boolean) => {
      if (hadError) destroyBoth();
    };
    upstream.on('error', destroyBoth);
    client.on('error', destroyBoth);
    client.on('close', onClose);
    upstream.on('close', onClose);
    upstream.once('close', () => {
      if (--t[TARGET.active]! === 0 && target.watched) {
        target.watched = false;
        this.#events.targetIdle(target);
      }
    });
    const fin = () => (conn.halfClosed = true);
    new Pipe(client, upstream, { app: a, appField: APP.bytes_in, target: t, targetField: TARGET.bytes_in }, fromClient, destroyBoth, fin);
    new Pipe(upstream, client, { app: a, appField: APP.bytes_out, target: t, targetField: TARGET.bytes_out }, fromServer, destroyBoth, fin);
  }

  /**
   * Idle and half-closed timeouts without a timer per socket (which would be
   * refreshed on every read and write): a sweep every min(timeouts)/4 closes
   * connections whose byte counts did not move for the timeout that applies.
   * A connection is closed between 1× and 1.25× the timeout after its last byte.
   */
  #startSweeper(everyMs: number): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweepEveryMs = everyMs;
    this.#sweeper = setInterval(() => this.#sweep(), everyMs);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const snap = this.#snap;
    if (snap === null) return;
    const { idleTimeoutMs, halfClosedTimeoutMs } = snap.options;
    const now = Date.now();
    for (const conn of this.#conns.values()) {
      const up = conn.upstream;
      if (up === null) continue; // connecting: connect_timeout applies
      const s = conn.client;
      const bytes = s.bytesRead + s.bytesWritten;
      if (bytes !== conn.bytes) {
        conn.bytes = bytes;
        conn.quietSince = now;
        continue;
      }
      const quiet = now - conn.quietSince;
      if (quiet >= idleTimeoutMs || (conn.halfClosed && quiet >= halfClosedTimeoutMs)) {
        s.destroy();
        up.destroy();
      }
    }
  }

  #idle(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#sweepEveryMs = 0;
    this.#events.appIdle();
  }
}

class NodeListener implements EngineListener {
  readonly port: number;
  readonly #server: Server;
  #app: NodeApp;
  constructor(server: Server, port: number, app: NodeApp) {
    this.#server = server;
    this.port = port;
    this.#app = app;
  }
  readonly onConnection = (s: Socket): void => this.#app.accept(s);
  /** libuv already accepted and closed the connection it had no descriptor for (its EMFILE reserve). */
  readonly onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== undefined && FD_LIMIT.has(err.code)) this.#app.c.a[APP.rejected_fd]++;
  };
  setApp(app: EngineApp): void {
    this.#app = app as NodeApp;
  }
  close(): void {
    // Stops accepting at once; the server's open connections are not touched.
    this.#server.close();
  }
}

export class NodeEngine implements Engine {
  readonly kind = 'node';
  readonly threads = 1;

  createApp(name: string, events: AppEvents): EngineApp {
    return new NodeApp(name, events);
  }

  listen(host: string, port: number, app: EngineApp, backlog: number): Promise<EngineListener> {
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.close();
        reject(new ListenError(err.code ?? 'EINVAL', err.message));
      };
      server.once('error', onError);
      server.listen({ host, port, exclusive: true, backlog }, () => {
        server.off('error', onError);
        const l = new NodeListener(server, (server.address() as { port: number }).port, app as NodeApp);
        server.on('connection', l.onConnection);
        server.on('error', l.onError);
        resolve(l);
      });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
