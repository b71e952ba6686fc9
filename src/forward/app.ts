import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { AppConfig, Config } from '../config/schema.js';
import { parseHostPort } from '../config/schema.js';
import { NO_EVENTS, type EventPublisher } from '../control/events.js';
import type { StatsScope } from '../stats/registry.js';
import { APP, type ConnectionInfo, type CounterView, type Engine, type EngineApp, type EngineAppOptions, type EngineKind, type EngineTarget } from './engine/types.js';
import { TargetHealthChecker } from './health.js';
import { Target, type CheckResult, type Health, type TargetInfo } from './target.js';

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
  /** Targets whose last check passed. */
  targets_up: number;
  /** Targets without a check result yet (they take traffic, as in HAProxy). */
  targets_unknown: number;
  active: number;
  /** Client connections taken on (not rejected). */
  accepted: number;
  /** Client connections relayed to a target. */
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

/** A target the config or `target add` lists, with its effective weight (runtime-targets.ts merges the two). */
export interface TargetEntry {
  address: string;
  weight: number;
  origin: 'static' | 'runtime';
}

/**
 * One app proxy's policy: its targets with their health, admin state and
 * weight, its settings and its stats. The bytes move in the engine (`EngineApp`), which
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
  #targets = new Map<string, Target>();
  /** Targets in config order; the usable ones are published. */
  #targetList: Target[] = [];
  /** Targets whose engine handle waits for `onIdle` (they were forgotten with connections open). */
  readonly #byHandle = new Map<EngineTarget, Target>();
  #ports: PortInfo[] = [];
  readonly #scope: StatsScope;
  #fooRegistered = false;
  readonly #health: TargetHealthChecker;
  readonly #logger: Logger;
  readonly #events: EventPublisher;
  #retired = false;
  /** Retired and without connections: the engine said so. */
  #idle = false;
  #onIdle: (() => void) | undefined;

  constructor(config: AppConfig, targets: readonly TargetEntry[], foo: FooConfig, fwd: ForwardConfig, engine: Engine, scope: StatsScope, logger: Logger, events: EventPublisher = NO_EVENTS) {
    this.name = config.name;
    this.#events = events;
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
    scope.counter('connections_accepted', 'client connections taken on (not rejected)', read(APP.accepted));
    this.#connectionRate = scope.rate('connection_rate', 'client connections taken on per second', read(APP.accepted));
    scope.counter('connections_rejected', 'client connections refused (over max_connections, or no file descriptor left)', () => c.get(APP.rejected_max) + c.get(APP.rejected_fd));
    scope.counter('connections_rejected_fd_limit', 'client connections refused because the agent had no file descriptor left', read(APP.rejected_fd));
    scope.counter('connections_no_target', 'client connections closed because no target was usable or reachable', read(APP.no_target));
    scope.counter('connect_failures', 'failed or timed-out connects to targets', read(APP.connect_failures));
    scope.counter('bytes_in', 'bytes from clients to targets', read(APP.bytes_in));
    scope.counter('bytes_out', 'bytes from targets to clients', read(APP.bytes_out));
    const count = (h: Health) => () => this.#targetList.reduce((n, t) => n + (t.health === h ? 1 : 0), 0);
    scope.gauge('targets_up', 'targets whose last health check passed (unknown ones not counted)', count('up'));
    scope.gauge('targets_unknown', 'targets without a check result yet (they take traffic)', count('unknown'));
    scope.gauge('targets_total', 'targets of the app', () => this.#targetList.length);
    if (config.protocol === 'foo') this.#registerFoo();
    this.#health = new TargetHealthChecker(config.health, (t, r) => this.#checked(t, r));
    this.#setStaticTargets(targets);
    this.#publish();
  }

  get config(): AppConfig {
    return this.#config;
  }

  /** The engine side of the app: Forward points listeners at it. */
  get engineApp(): EngineApp {
    return this.#app;
  }

  /** Applies a reloaded config of the same app name; `targets` are its targets with the run-time changes applied. */
  update(config: AppConfig, targets: readonly TargetEntry[], foo: FooConfig, fwd: ForwardConfig): void {
    this.#config = config;
    this.#foo = foo;
    this.#fwd = fwd;
    if (config.protocol === 'foo' && !this.#fooRegistered) this.#registerFoo();
    this.#health.update(config.health);
    this.#setStaticTargets(targets);
    this.#publish();
  }

  /** The targets the config and `target add` list changed at run time (target add/remove/weight, app reset). */
  setTargets(targets: readonly TargetEntry[]): void {
    this.#setStaticTargets(targets);
    this.#publish();
  }

  /** The app's ports as Forward last set them: configured, bound, state. */
  get ports(): readonly PortInfo[] {
    return this.#ports;
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

  /** The app's targets in order (config, then `target add`, then services' instances as they came). */
  get targetList(): readonly Target[] {
    return this.#targetList;
  }

  get counters(): CounterView {
    return this.#app.counters;
  }

  /** Client connections taken on over the last second. */
  connectionRate1s(): number {
    return this.#connectionRate.rate1s();
  }

  setTargetState(t: Target, state: AdminState): void {
    // Disabling stops the checks; what they said before is stale from then on, and after enable until the next one.
    if (state === 'disabled' || t.state === 'disabled') t.checked = false;
    t.state = state;
    t.noteChange();
    this.#publish();
  }

  /** The weight of a service's instance (the others take theirs from setTargets). */
  setDynamicWeight(t: Target, weight: number): void {
    t.weight = weight;
    this.#publish();
  }

  /**
   * A service's instance (AppTargets.addTarget): its readiness probe passed,
   * so it starts up (not unknown), health-checked like the rest.
   */
  addDynamicTarget(address: string): void {
    const key = normalise(address);
    const existing = this.#targets.get(key);
    if (existing) {
      existing.isDynamic = true;
      return;
    }
    const t = this.#createTarget(key);
    t.isDynamic = true;
    t.checked = true;
    this.#publish();
  }

  /** Forgets a dynamic target; resolves once its last connection closed (or after timeoutMs). */
  removeDynamicTarget(address: string, timeoutMs?: number): Promise<void> {
    const t = this.#targets.get(normalise(address));
    if (!t || !t.isDynamic) return Promise.resolve();
    t.isDynamic = false;
    if (t.origin !== null) return Promise.resolve();
    const done = this.#detach(t, timeoutMs);
    this.#publish();
    return done;
  }

  /** Makes the config's and `target add`'s targets these (a forgotten one's open connections continue). */
  #setStaticTargets(entries: readonly TargetEntry[]): void {
    const wanted = new Map(entries.map((e) => [normalise(e.address), e]));
    for (const t of [...this.#targets.values()]) {
      if (t.origin === null || wanted.has(t.address)) continue;
      t.origin = null;
      t.weight = 1;
      if (!t.isDynamic) void this.#detach(t);
    }
    for (const [address, e] of wanted) {
      const t = this.#targets.get(address) ?? this.#createTarget(address);
      t.origin = e.origin;
      t.weight = e.weight;
    }
    // The app's order (round-robin walks it): the config's and target add's, then services' instances as they came.
    const ordered = new Map<string, Target>();
    for (const address of wanted.keys()) ordered.set(address, this.#targets.get(address)!);
    for (const [address, t] of this.#targets) if (!ordered.has(address)) ordered.set(address, t);
    this.#targets = ordered;
    this.#targetList = [...ordered.values()];
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
          if (!t.attached) return;
          const was = t.health;
          t.lastError = `resolve ${hp.host}: ${err.code ?? err.message}`;
          t.up = false;
          this.#healthChanged(t, was, 'name does not resolve');
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
    const was = t.health;
    if (t.recordFailure(this.#config.health.fall, reason)) this.#healthChanged(t, was, 'connect failures');
  }

  /** An active check finished: the target's health follows (Target.recordCheck). */
  #checked(t: Target, r: CheckResult): void {
    const was = t.health;
    const wasUp = t.up;
    const { rise, fall } = this.#config.health;
    t.recordCheck(r, rise, fall);
    if (t.health !== was || t.up !== wasUp) this.#healthChanged(t, was, r.ok ? 'health check passed' : (r.error ?? 'health check failed'));
  }

  /**
   * THE place where a target's health change is decided and acted on
   * (checks, connect failures, name resolution all end here): the log line,
   * the lastchg/downtime bookkeeping, a new snapshot for the engine. A
   * target-health event is published from here.
   */
  #healthChanged(t: Target, from: Health, reason: string): void {
    const to = t.health;
    t.noteChange();
    const log = { app: this.name, target: t.address, from, to, reason };
    if (to === 'down') this.#logger.warn({ ...log, error: t.lastError }, `target down (${reason})`);
    else this.#logger.info(log, `target ${to} (${reason})`);
    this.#publish();
    // `unknown` is where a target starts, never a change to announce.
    if (to !== 'unknown' && to !== from) this.#events.publish('target.health', { app: this.name, target: t.address, health: to, error: to === 'down' ? (t.lastError ?? reason) : null });
  }

  /** Hands the engine the current options and usable targets with their weights (a new immutable snapshot). */
  #publish(): void {
    const usable: EngineTarget[] = [];
    const weights: number[] = [];
    for (const t of this.#targetList) {
      if (!t.usable) continue;
      usable.push(t.handle!);
      weights.push(t.weight);
    }
    this.#app.publish(engineOptions(this.#config, this.#foo, this.#fwd), usable, weights);
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

  readonly #connectionRate: { rate1s(): number };
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
      targets_unknown: targets.filter((t) => t.health === 'unknown').length,
      active: c.get(APP.active),
      accepted: c.get(APP.accepted),
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
