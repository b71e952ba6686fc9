import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AppConfig, Config } from '../config/schema.js';
import { parseHostPort } from '../config/schema.js';
import type { Counter, Gauge, StatsScope } from '../stats/registry.js';
import { Balancer, clientKey } from './balancer.js';
import { FooScanner, type FooCounters } from './foo-scanner.js';
import { HealthChecker } from './health.js';
import { Pipe } from './relay.js';
import { Target, type TargetInfo } from './target.js';

export type FooConfig = Config['foo'];

export interface PortInfo {
  port: number;
  /** listening; error (could not listen: the message says why); closed (removed, draining its connections). */
  state: 'listening' | 'error' | 'starting';
  error: string | null;
}

export interface FooInfo {
  msg_total: number;
  msg_req: number;
  msg_ack: number;
  msg_nak: number;
  msg_invalid: number;
  request_rate_1s: number;
  request_rate_10s: number;
  response_rate_1s: number;
  response_rate_10s: number;
}

export interface AppInfo {
  name: string;
  protocol: 'tcp' | 'foo';
  bind: string;
  balance: string;
  ports: PortInfo[];
  targets: TargetInfo[];
  targets_up: number;
  active: number;
  total: number;
  rejected: number;
  no_target: number;
  connect_failures: number;
  bytes_in: number;
  bytes_out: number;
  foo: FooInfo | null;
}

interface Listener {
  port: number;
  server: Server;
  state: PortInfo['state'];
  error: string | null;
}

interface IdleMark {
  bytes: number;
  since: number;
  upstream: Socket | null;
}

interface AppCounters {
  active: Gauge;
  total: Counter;
  rejected: Counter;
  noTarget: Counter;
  connectFailures: Counter;
  bytesIn: Counter;
  bytesOut: Counter;
}

/**
 * One app proxy: its listeners (one per port), its targets with their health,
 * the balancer, and the connections it relays. `update` applies a reloaded
 * config: new settings apply to new connections; open ones are never cut.
 */
export class App {
  readonly name: string;
  #config: AppConfig;
  #foo: FooConfig;
  #balancer: Balancer<Target>;
  readonly #targets = new Map<string, Target>();
  /** Usable-or-not targets in config order; the balancer filters. */
  #targetList: Target[] = [];
  readonly #listeners = new Map<number, Listener>();
  /** Open client sockets → what the idle sweep saw of them last. */
  readonly #connections = new Map<Socket, IdleMark>();
  #sweeper: NodeJS.Timeout | undefined;
  readonly #scope: StatsScope;
  readonly #c: AppCounters;
  #fooCounters: FooCounters | null = null;
  readonly #health: HealthChecker;
  readonly #logger: Logger;
  #retired = false;
  #onIdle: (() => void) | undefined;

  constructor(config: AppConfig, foo: FooConfig, scope: StatsScope, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#foo = foo;
    this.#scope = scope;
    this.#logger = logger;
    this.#balancer = new Balancer(config.balance);
    this.#c = {
      active: scope.gauge('connections_active', 'open client connections'),
      total: scope.counter('connections_total', 'client connections relayed to a target'),
      rejected: scope.counter('connections_rejected', 'client connections refused at max_connections'),
      noTarget: scope.counter('connections_no_target', 'client connections closed because no target was usable or reachable'),
      connectFailures: scope.counter('connect_failures', 'failed or timed-out connects to targets'),
      bytesIn: scope.counter('bytes_in', 'bytes from clients to targets'),
      bytesOut: scope.counter('bytes_out', 'bytes from targets to clients'),
    };
    scope.gauge('targets_up', 'targets passing health checks', () => this.#targetList.reduce((n, t) => n + (t.up ? 1 : 0), 0));
    scope.gauge('targets_total', 'targets of the app', () => this.#targetList.length);
    if (config.protocol === 'foo') this.#registerFoo();
    this.#health = new HealthChecker(config.health, (t, up) => this.#logger.warn({ app: this.name, target: t.address, error: up ? undefined : t.lastError }, up ? 'target up' : 'target down'));
    this.#setStaticTargets(config.targets);
    this.#startSweeper();
  }

  get config(): AppConfig {
    return this.#config;
  }

  /** Opens every port; a port that cannot listen is reported in `info()`, the others serve. */
  async start(): Promise<void> {
    await Promise.all(this.#config.ports.map((p) => this.#listen(p)));
  }

  /** Applies a reloaded config of the same app name. */
  async update(config: AppConfig, foo: FooConfig): Promise<void> {
    const old = this.#config;
    this.#config = config;
    this.#foo = foo;
    if (config.balance !== old.balance) this.#balancer = new Balancer(config.balance);
    if (config.protocol === 'foo' && !this.#fooCounters) this.#registerFoo();
    this.#health.update(config.health);
    if (config.idle_timeout !== old.idle_timeout) this.#startSweeper();
    this.#setStaticTargets(config.targets);
    const rebind = config.bind !== old.bind;
    const wanted = new Set(config.ports);
    for (const [port, l] of this.#listeners) {
      if (rebind || !wanted.has(port) || l.state === 'error') this.#unlisten(port);
    }
    await Promise.all(config.ports.filter((p) => !this.#listeners.has(p)).map((p) => this.#listen(p)));
  }

  /** Ports that will stop listening under `next` (closed before other apps open theirs on reload). */
  closePortsNotIn(next: AppConfig): void {
    const wanted = next.bind === this.#config.bind ? new Set(next.ports) : new Set<number>();
    for (const port of [...this.#listeners.keys()]) if (!wanted.has(port)) this.#unlisten(port);
  }

  /**
   * Removed from the config: stop accepting, stop checking; open connections
   * run to their end. `onIdle` fires once none is left.
   */
  retire(onIdle: () => void): void {
    this.#retired = true;
    for (const port of [...this.#listeners.keys()]) this.#unlisten(port);
    this.#health.close();
    this.#onIdle = onIdle;
    if (this.#connections.size === 0) this.#fireIdle();
  }

  /** Agent shutdown: stop listening and cut whatever is still open. */
  close(): void {
    this.#retired = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const port of [...this.#listeners.keys()]) this.#unlisten(port);
    this.#health.close();
    for (const s of this.#connections.keys()) s.destroy();
  }

  removeStats(): void {
    this.#scope.remove();
  }

  // ---- targets -----------------------------------------------------------

  target(address: string): Target | undefined {
    return this.#targets.get(normalise(address));
  }

  /** A service's instance (AppTargets.addTarget): starts up, health-checked like the rest. */
  addDynamicTarget(address: string): void {
    const key = normalise(address);
    const existing = this.#targets.get(key);
    if (existing) {
      existing.isDynamic = true;
      return;
    }
    const t = this.#createTarget(key);
    t.isDynamic = true;
  }

  /** Forgets a dynamic target; resolves once its last connection closed (or after timeoutMs). */
  removeDynamicTarget(address: string, timeoutMs?: number): Promise<void> {
    const t = this.#targets.get(normalise(address));
    if (!t || !t.isDynamic) return Promise.resolve();
    t.isDynamic = false;
    if (t.isStatic) return Promise.resolve();
    return this.#detach(t, timeoutMs);
  }

  #setStaticTargets(addresses: readonly string[]): void {
    const wanted = new Set(addresses.map(normalise));
    for (const t of [...this.#targets.values()]) {
      if (!t.isStatic || wanted.has(t.address)) continue;
      t.isStatic = false;
      if (!t.isDynamic) void this.#detach(t);
    }
    for (const address of wanted) {
      const t = this.#targets.get(address) ?? this.#createTarget(address);
      t.isStatic = true;
    }
  }

  #createTarget(address: string): Target {
    const hp = parseHostPort(address);
    if (!hp) throw new Error(`malformed target "${address}"`);
    const t = new Target(address, hp.host, hp.port, this.#scope);
    this.#targets.set(address, t);
    this.#targetList = [...this.#targets.values()];
    if (!this.#retired) this.#health.add(t);
    return t;
  }

  #detach(t: Target, timeoutMs?: number): Promise<void> {
    t.attached = false;
    this.#targets.delete(t.address);
    this.#targetList = [...this.#targets.values()];
    this.#health.remove(t);
    if (t.active.value === 0) {
      t.removeStats();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      t.onIdle = () => {
        if (timer) clearTimeout(timer);
        // A target re-added meanwhile registered fresh metrics under the same path; keep them.
        if (!this.#targets.has(t.address)) t.removeStats();
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          t.onIdle = () => {
            if (!this.#targets.has(t.address)) t.removeStats();
          };
          resolve();
        }, timeoutMs);
        timer.unref();
      }
    });
  }

  // ---- listeners ---------------------------------------------------------

  #listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, this.#onConnection);
    const l: Listener = { port, server, state: 'starting', error: null };
    this.#listeners.set(port, l);
    return new Promise<void>((resolve) => {
      const onError = (err: NodeJS.ErrnoException) => {
        l.state = 'error';
        l.error = err.code === 'EADDRINUSE' ? `port ${port} already in use` : `cannot listen on ${this.#config.bind}:${port}: ${err.code ?? err.message}`;
        this.#logger.error({ app: this.name, port, err: err.message }, `app ${this.name}: ${l.error}`);
        server.close();
        resolve();
      };
      server.once('error', onError);
      server.listen({ host: this.#config.bind, port }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.#logger.error({ app: this.name, port, err }, 'listener error'));
        l.state = 'listening';
        resolve();
      });
    });
  }

  #unlisten(port: number): void {
    const l = this.#listeners.get(port);
    if (!l) return;
    this.#listeners.delete(port);
    // Stops accepting at once; the server's open connections are not touched.
    if (l.state !== 'error') l.server.close();
  }

  // ---- connections -------------------------------------------------------

  /**
   * Idle timeout without a timer per socket (which would be refreshed on every
   * read and write): a sweep every idle_timeout/4 closes connections whose
   * byte counts did not move for idle_timeout. A connection is closed between
   * idle_timeout and 1.25 × idle_timeout after its last byte.
   */
  #startSweeper(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    const idleMs = this.#config.idle_timeout * 1000;
    this.#sweeper = setInterval(() => this.#sweep(idleMs), Math.max(50, Math.min(idleMs / 4, 60_000)));
    this.#sweeper.unref();
  }

  #sweep(idleMs: number): void {
    const now = Date.now();
    for (const [s, mark] of this.#connections) {
      const bytes = s.bytesRead + s.bytesWritten;
      if (bytes !== mark.bytes) {
        mark.bytes = bytes;
        mark.since = now;
      } else if (now - mark.since >= idleMs) {
        s.destroy();
        mark.upstream?.destroy();
      }
    }
  }

  readonly #onConnection = (client: Socket): void => {
    const c = this.#c;
    if (this.#connections.size >= this.#config.max_connections) {
      c.rejected.value++;
      client.destroy();
      return;
    }
    this.#connections.set(client, { bytes: -1, since: 0, upstream: null });
    c.active.value++;
    client.once('close', () => {
      this.#connections.delete(client);
      c.active.value--;
      if (this.#connections.size === 0 && this.#retired) this.#fireIdle();
    });
    client.on('error', () => undefined); // 'close' follows; the upstream side is destroyed there
    // getpeername is a syscall: only sharding needs the client's address.
    const order = this.#balancer.order(this.#usable(), this.#balancer.mode === 'sharding' ? clientKey(client.remoteAddress) : '');
    this.#connectTo(client, order, 0);
  };

  #usable(): Target[] {
    const out: Target[] = [];
    for (const t of this.#targetList) if (t.usable) out.push(t);
    return out;
  }

  /** Tries `order[i]`, then the next ones; none left → the client is closed at once. */
  #connectTo(client: Socket, order: readonly Target[], i: number): void {
    if (client.destroyed) return;
    const target = order[i];
    if (target === undefined) {
      this.#c.noTarget.value++;
      client.destroy();
      return;
    }
    const cfg = this.#config;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    const fail = (why: string) => {
      if (connected) return;
      connected = true; // settle once
      upstream.destroy();
      this.#c.connectFailures.value++;
      target.connectFailures.value++;
      if (target.recordFailure(cfg.health.fall, why)) this.#logger.warn({ app: this.name, target: target.address, error: why }, 'target down (connect failures)');
      this.#connectTo(client, order, i + 1);
    };
    upstream.setTimeout(cfg.connect_timeout * 1000);
    upstream.once('timeout', () => fail(`connect timed out after ${cfg.connect_timeout} s`));
    upstream.once('error', (e: NodeJS.ErrnoException) => fail(`connect: ${e.code ?? e.message}`));
    upstream.once('connect', () => {
      if (connected) return;
      connected = true;
      upstream.removeAllListeners('timeout');
      upstream.removeAllListeners('error');
      upstream.setTimeout(0);
      target.failStreak = 0;
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.#relay(client, upstream, target);
    });
  }

  #relay(client: Socket, upstream: Socket, target: Target): void {
    const cfg = this.#config;
    const c = this.#c;
    c.total.value++;
    target.connectionOpened();
    let fromClient: FooScanner | null = null;
    let fromServer: FooScanner | null = null;
    if (cfg.protocol === 'foo' && this.#fooCounters) {
      const max = this.#foo.max_line;
      fromClient = new FooScanner(true, this.#fooCounters, max, this.#foo.on_invalid === 'close');
      fromServer = new FooScanner(false, this.#fooCounters, max, false);
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
    upstream.once('close', () => target.connectionClosed());
    const mark = this.#connections.get(client);
    if (mark) mark.upstream = upstream;
    new Pipe(client, upstream, c.bytesIn, target.bytesIn, fromClient, destroyBoth);
    new Pipe(upstream, client, c.bytesOut, target.bytesOut, fromServer, destroyBoth);
  }

  #fireIdle(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    const cb = this.#onIdle;
    this.#onIdle = undefined;
    cb?.();
  }

  #registerFoo(): void {
    const s = this.#scope;
    this.#fooCounters = {
      total: s.counter('msg_total', 'Foo messages (REQ + ACK + NAK)'),
      req: s.counter('msg_req', 'Foo REQ messages from clients'),
      ack: s.counter('msg_ack', 'Foo ACK messages from servers'),
      nak: s.counter('msg_nak', 'Foo NAK messages from servers'),
      invalid: s.counter('msg_invalid', 'lines that are not valid Foo messages, both directions'),
      requestRate: s.rate('request_rate', 'REQ messages per second'),
      responseRate: s.rate('response_rate', 'ACK and NAK messages per second'),
    };
  }

  // ---- views -------------------------------------------------------------

  info(): AppInfo {
    const cfg = this.#config;
    const f = this.#fooCounters;
    const targets = this.#targetList.map((t) => t.info());
    return {
      name: this.name,
      protocol: cfg.protocol,
      bind: cfg.bind,
      balance: cfg.balance,
      ports: cfg.ports.map((port) => {
        const l = this.#listeners.get(port);
        return { port, state: l?.state ?? 'error', error: l?.error ?? null };
      }),
      targets,
      targets_up: targets.filter((t) => t.health === 'up').length,
      active: this.#c.active.value,
      total: this.#c.total.value,
      rejected: this.#c.rejected.value,
      no_target: this.#c.noTarget.value,
      connect_failures: this.#c.connectFailures.value,
      bytes_in: this.#c.bytesIn.value,
      bytes_out: this.#c.bytesOut.value,
      foo:
        cfg.protocol === 'foo' && f
          ? {
              msg_total: f.total.value,
              msg_req: f.req.value,
              msg_ack: f.ack.value,
              msg_nak: f.nak.value,
              msg_invalid: f.invalid.value,
              request_rate_1s: f.requestRate.rate1s(),
              request_rate_10s: Math.round(f.requestRate.rate10s() * 100) / 100,
              response_rate_1s: f.responseRate.rate1s(),
              response_rate_10s: Math.round(f.responseRate.rate10s() * 100) / 100,
            }
          : null,
    };
  }
}

/** `host:port` as the app keys it (IPv6 bracketed, trimmed). */
export function normalise(address: string): string {
  const hp = parseHostPort(address);
  if (!hp) return address.trim();
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
