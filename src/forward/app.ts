import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { AppConfig, Config } from '../config/schema.js';
import { parseHostPort } from '../config/schema.js';
import type { StatsScope } from '../stats/registry.js';
import { APP, type ConnectionInfo, type Engine, type EngineApp, type EngineAppOptions, type EngineKind, type EngineTarget } from './engine/types.js';
import { HealthChecker } from './health.js';
import { Target, type TargetInfo } from './target.js';

export type FooConfig = Config['foo'];
export type ForwardConfig = Config['forward'];

export interface PortInfo {
  /** The configured port (0: the kernel picks one). */
  port: number;
  /** The port actually listened on (null while not listening). */
  bound_port: number | null;
  /** listening; error (could not listen: the message says why). */
  state: 'listening' | 'error';
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
  /** The data plane relaying this app's connections. */
  engine: EngineKind;
  bind: string;
  balance: string;
  ports: PortInfo[];
  targets: TargetInfo[];
  targets_up: number;
  active: number;
  total: number;
  /** Client connections refused: the sum of `rejected_by`. */
  rejected: number;
  /** max_connections: over the app's limit; fd_limit: the agent had no file descriptor left. */
  rejected_by: { max_connections: number; fd_limit: number };
  no_target: number;
  connect_failures: number;
  bytes_in: number;
  bytes_out: number;
  foo: FooInfo | null;
}

/**
 * One app proxy's policy: its targets with their health and admin state, its
 * settings and its stats. The bytes move in the engine (`EngineApp`), which
 * gets a new snapshot of the usable targets whenever one of them changes.
 * `update` applies a reloaded config: new settings apply to new connections;
 * open ones are never cut. Listeners belong to Forward (a port can move from
 * one app to another on reload without closing).
 */
export class App {
  readonly name: string;
  #config: AppConfig;
  #foo: FooConfig;
  #fwd: ForwardConfig;
  readonly #engine: Engine;
  readonly #app: EngineApp;
  readonly #targets = new Map<string, Target>();
  /** Targets in config order; the usable ones are published. */
  #targetList: Target[] = [];
  /** Targets whose engine handle waits for `onIdle` (they were forgotten with connections open). */
  readonly #byHandle = new Map<EngineTarget, Target>();
  #ports: PortInfo[] = [];
  readonly #scope: StatsScope;
  #fooRegistered = false;
  readonly #health: HealthChecker;
  readonly #logger: Logger;
  #retired = false;
  /** Retired and without connections: the engine said so. */
  #idle = false;
  #onIdle: (() => void) | undefined;

  constructor(config: AppConfig, foo: FooConfig, fwd: ForwardConfig, engine: Engine, scope: StatsScope, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#foo = foo;
    this.#fwd = fwd;
    this.#engine = engine;
    this.#scope = scope;
    this.#logger = logger;
    this.#app = engine.createApp(config.name, {
      connectFailed: (h, reason, total) => this.#connectFailed(h, reason, total),
      targetIdle: (h) => this.#targetIdle(h),
      appIdle: () => this.#fireIdle(),
    });
    const c = this.#app.counters;
    const read = (field: number) => () => c.get(field);
    scope.gauge('connections_active', 'open client connections', read(APP.active));
    scope.counter('connections_total', 'client connections relayed to a target', read(APP.total));
    scope.counter('connections_rejected', 'client connections refused (over max_connections, or no file descriptor left)', () => c.get(APP.rejected_max) + c.get(APP.rejected_fd));
    scope.counter('connections_rejected_fd_limit', 'client connections refused because the agent had no file descriptor left', read(APP.rejected_fd));
    scope.counter('connections_no_target', 'client connections closed because no target was usable or reachable', read(APP.no_target));
    scope.counter('connect_failures', 'failed or timed-out connects to targets', read(APP.connect_failures));
    scope.counter('bytes_in', 'bytes from clients to targets', read(APP.bytes_in));
    scope.counter('bytes_out', 'bytes from targets to clients', read(APP.bytes_out));
    scope.gauge('targets_up', 'targets passing health checks', () => this.#targetList.reduce((n, t) => n + (t.up ? 1 : 0), 0));
    scope.gauge('targets_total', 'targets of the app', () => this.#targetList.length);
    if (config.protocol === 'foo') this.#registerFoo();
    this.#health = new HealthChecker(config.health, (t, up) => {
      this.#logger.warn({ app: this.name, target: t.address, error: up ? undefined : t.lastError }, up ? 'target up' : 'target down');
      this.#publish();
    });
    this.#setStaticTargets(config.targets);
    this.#publish();
  }

  get config(): AppConfig {
    return this.#config;
  }

  /** The engine side of the app: Forward points listeners at it. */
  get engineApp(): EngineApp {
    return this.#app;
  }

  /** Applies a reloaded config of the same app name. */
  update(config: AppConfig, foo: FooConfig, fwd: ForwardConfig): void {
    this.#config = config;
    this.#foo = foo;
    this.#fwd = fwd;
    if (config.protocol === 'foo' && !this.#fooRegistered) this.#registerFoo();
    this.#health.update(config.health);
    this.#setStaticTargets(config.targets);
    this.#publish();
  }

  /** What Forward's listeners look like for this app (for `info`). */
  setPorts(ports: PortInfo[]): void {
    this.#ports = ports;
  }

  /**
   * Removed from the config: stop checking; open connections run to their
   * end. `onIdle` fires once none is left. Forward closes the listeners.
   */
  retire(onIdle: () => void): void {
    if (this.#idle) {
      onIdle(); // retired before (a reload removed it) and already drained
      return;
    }
    this.#onIdle = onIdle;
    if (this.#retired) return; // the engine reports once; the new callback takes that report
    this.#retired = true;
    this.#health.close();
    this.#app.retire();
  }

  /** Cuts every open connection, both sides (shutdown after the grace period). */
  closeConnections(): void {
    this.#app.closeConnections();
  }

  get active(): number {
    return this.#app.counters.get(APP.active);
  }

  connections(limit: number): Promise<ConnectionInfo[]> {
    return this.#app.listConnections(limit);
  }

  removeStats(): void {
    this.#scope.remove();
  }

  // ---- targets -----------------------------------------------------------

  target(address: string): Target | undefined {
    return this.#targets.get(normalise(address));
  }

  setTargetState(t: Target, state: AdminState): void {
    t.state = state;
    this.#publish();
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
    this.#publish();
  }

  /** Forgets a dynamic target; resolves once its last connection closed (or after timeoutMs). */
  removeDynamicTarget(address: string, timeoutMs?: number): Promise<void> {
    const t = this.#targets.get(normalise(address));
    if (!t || !t.isDynamic) return Promise.resolve();
    t.isDynamic = false;
    if (t.isStatic) return Promise.resolve();
    const done = this.#detach(t, timeoutMs);
    this.#publish();
    return done;
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
    if (isIP(hp.host)) t.handle = this.#app.createTarget(address, hp.host, hp.port);
    else {
      // The engine connects to addresses: resolve the name once; the target is usable from then on.
      lookup(hp.host).then(
        (r) => {
          if (!t.attached) return;
          t.handle = this.#app.createTarget(address, r.address, hp.port);
          this.#publish();
        },
        (err: NodeJS.ErrnoException) => {
          t.lastError = `resolve ${hp.host}: ${err.code ?? err.message}`;
          t.up = false;
          this.#logger.warn({ app: this.name, target: address, error: t.lastError }, 'target down (name does not resolve)');
        },
      );
    }
    return t;
  }

  #detach(t: Target, timeoutMs?: number): Promise<void> {
    t.attached = false;
    this.#targets.delete(t.address);
    this.#targetList = [...this.#targets.values()];
    this.#health.remove(t);
    const h = t.handle;
    if (h === null) {
      t.removeStats();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      t.onIdle = () => {
        if (timer) clearTimeout(timer);
        // A target re-added meanwhile registered fresh metrics under the same path; keep them.
        if (!this.#targets.has(t.address)) t.removeStats();
        this.#app.releaseTarget(h);
        resolve();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          t.onIdle = () => {
            if (!this.#targets.has(t.address)) t.removeStats();
            this.#app.releaseTarget(h);
          };
          resolve();
        }, timeoutMs);
        timer.unref();
      }
      this.#byHandle.set(h, t);
      this.#app.watchIdle(h); // may call targetIdle at once
    });
  }

  #targetIdle(h: EngineTarget): void {
    const t = this.#byHandle.get(h);
    if (!t) return;
    this.#byHandle.delete(h);
    const cb = t.onIdle;
    t.onIdle = undefined;
    cb?.();
  }

  /** Passive health: a failed connect counts toward `fall` like a failed check. */
  #connectFailed(h: EngineTarget, reason: string, totalAtFailure: number): void {
    const t = this.#targets.get(h.address);
    if (!t || t.handle !== h) return;
    // A connect succeeded since the previous failure: the streak starts over.
    if (totalAtFailure !== t.totalAtLastFailure) t.failStreak = 0;
    t.totalAtLastFailure = totalAtFailure;
    if (t.recordFailure(this.#config.health.fall, reason)) {
      this.#logger.warn({ app: this.name, target: t.address, error: reason }, 'target down (connect failures)');
      this.#publish();
    }
  }

  /** Hands the engine the current options and usable targets (a new immutable snapshot). */
  #publish(): void {
    const usable: EngineTarget[] = [];
    for (const t of this.#targetList) if (t.usable) usable.push(t.handle!);
    this.#app.publish(engineOptions(this.#config, this.#foo, this.#fwd), usable);
  }

  #fireIdle(): void {
    this.#idle = true;
    const cb = this.#onIdle;
    this.#onIdle = undefined;
    cb?.();
  }

  #registerFoo(): void {
    this.#fooRegistered = true;
    const s = this.#scope;
    const c = this.#app.counters;
    const req = () => c.get(APP.msg_req);
    const resp = () => c.get(APP.msg_ack) + c.get(APP.msg_nak);
    s.counter('msg_total', 'Foo messages (REQ + ACK + NAK)', () => req() + resp());
    s.counter('msg_req', 'Foo REQ messages from clients', req);
    s.counter('msg_ack', 'Foo ACK messages from servers', () => c.get(APP.msg_ack));
    s.counter('msg_nak', 'Foo NAK messages from servers', () => c.get(APP.msg_nak));
    s.counter('msg_invalid', 'lines that are not valid Foo messages, both directions', () => c.get(APP.msg_invalid));
    // Rates are per-second deltas of the counters, taken by the registry's tick.
    this.#requestRate = s.rate('request_rate', 'REQ messages per second', req);
    this.#responseRate = s.rate('response_rate', 'ACK and NAK messages per second', resp);
  }

  #requestRate: { rate1s(): number; rate10s(): number } | null = null;
  #responseRate: { rate1s(): number; rate10s(): number } | null = null;

  // ---- views -------------------------------------------------------------

  info(): AppInfo {
    const cfg = this.#config;
    const c = this.#app.counters;
    const targets = this.#targetList.map((t) => t.info());
    const req = c.get(APP.msg_req);
    const ack = c.get(APP.msg_ack);
    const nak = c.get(APP.msg_nak);
    const rq = this.#requestRate;
    const rs = this.#responseRate;
    return {
      name: this.name,
      protocol: cfg.protocol,
      engine: this.#engine.kind,
      bind: cfg.bind,
      balance: cfg.balance,
      ports: this.#ports,
      targets,
      targets_up: targets.filter((t) => t.health === 'up').length,
      active: c.get(APP.active),
      total: c.get(APP.total),
      rejected: c.get(APP.rejected_max) + c.get(APP.rejected_fd),
      rejected_by: { max_connections: c.get(APP.rejected_max), fd_limit: c.get(APP.rejected_fd) },
      no_target: c.get(APP.no_target),
      connect_failures: c.get(APP.connect_failures),
      bytes_in: c.get(APP.bytes_in),
      bytes_out: c.get(APP.bytes_out),
      foo:
        cfg.protocol === 'foo' && rq && rs
          ? {
              msg_total: req + ack + nak,
              msg_req: req,
              msg_ack: ack,
              msg_nak: nak,
              msg_invalid: c.get(APP.msg_invalid),
              request_rate_1s: rq.rate1s(),
              request_rate_10s: Math.round(rq.rate10s() * 100) / 100,
              response_rate_1s: rs.rate1s(),
              response_rate_10s: Math.round(rs.rate10s() * 100) / 100,
            }
          : null,
    };
  }
}

export type AdminState = Target['state'];

/** What the engine needs of an app's config. */
export function engineOptions(cfg: AppConfig, foo: FooConfig, fwd: ForwardConfig): EngineAppOptions {
  return {
    protocol: cfg.protocol,
    balance: cfg.balance,
    connectTimeoutMs: cfg.connect_timeout * 1000,
    idleTimeoutMs: cfg.idle_timeout * 1000,
    halfClosedTimeoutMs: fwd.half_closed_timeout * 1000,
    maxConnections: cfg.max_connections,
    fooCloseOnInvalid: foo.on_invalid === 'close',
    fooMaxLine: foo.max_line,
  };
}

/** `host:port` as the app keys it (IPv6 bracketed, trimmed). */
export function normalise(address: string): string {
  const hp = parseHostPort(address);
  if (!hp) return address.trim();
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
