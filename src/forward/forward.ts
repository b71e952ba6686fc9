import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Subsystem, SubsystemContext, SubsystemParts } from '../agent/subsystem.js';
import type { AnyCommand } from '../control/registry.js';
import type { AppConfig, Config } from '../config/schema.js';
import { parseHostPort } from '../config/schema.js';
import type { EventPublisher } from '../control/events.js';
import { ProxyctlError } from '../errors.js';
import type { StatsRegistry } from '../stats/registry.js';
import type { AppTargets } from './api.js';
import { App, normalise, type AdminState, type AppInfo, type PortInfo } from './app.js';
import { forwardCommands, type AppReset, type AppSessions, type AppStats, type TargetChange } from './commands.js';
import { createEngine, raiseFdLimit } from './engine/index.js';
import { ListenError, type Engine, type EngineListener } from './engine/types.js';
import { effectiveTargets, empty, RuntimeTargets } from './runtime-targets.js';
import { statRows } from './stat-rows.js';
import type { Target } from './target.js';

/** One listening socket and the app it serves; keyed by bind address and port (port 0: per app). */
interface ListenerEntry {
  readonly key: string;
  readonly bind: string;
  /** `bind` resolved to an address. */
  readonly host: string;
  /** The configured port (0: the kernel's choice, kept across reloads). */
  readonly port: number;
  app: App;
  listener: EngineListener;
}

interface WantedPort {
  readonly key: string;
  readonly bind: string;
  readonly port: number;
  readonly app: App;
}

/**
 * The app proxies: one App (policy) per configured app over one engine (the
 * data plane), built on start and diffed on reload. Owns the listeners, so a
 * reload can hand a port to another app without closing it, and keep an old
 * listener until its replacement is bound. Also the AppTargets API services
 * use to fill an app's targets.
 */
export class Forward implements Subsystem, AppTargets {
  readonly name = 'forward';
  readonly #stats: StatsRegistry;
  readonly #logger: Logger;
  readonly #allowPartial: boolean;
  readonly #events: EventPublisher;
  #config: Config;
  readonly #engine: Engine;
  readonly #apps = new Map<string, App>();
  /** Apps removed by a reload whose connections are still open. */
  readonly #retired = new Set<App>();
  #listeners = new Map<string, ListenerEntry>();
  /** Per app and configured port: why it is not listening as configured. */
  #portErrors = new Map<string, string>();
  /** target add/remove/weight, kept in the state DB until app reset. */
  readonly #runtime: RuntimeTargets;

  constructor(ctx: SubsystemContext) {
    this.#stats = ctx.stats;
    this.#logger = ctx.logger.child({ sub: 'forward' });
    this.#runtime = new RuntimeTargets(ctx.state, this.#logger);
    this.#config = ctx.config;
    this.#allowPartial = ctx.allowPartial ?? false;
    this.#events = ctx.events;
    this.#engine = createEngine(ctx.config.forward, this.#logger);
    const s = ctx.stats.scope('forward');
    s.text('engine', 'data plane of the app proxies: native or node', () => this.#engine.kind);
    s.gauge('threads', 'event-loop threads relaying app connections', () => this.#engine.threads);
  }

  /** The data plane, as `agent status` shows it. */
  get engine(): string {
    return this.#engine.kind;
  }

  async start(): Promise<void> {
    const lim = raiseFdLimit();
    if (lim) this.#logger.info({ soft_before: lim.before, soft: lim.soft, hard: lim.hard }, `file descriptor limit: soft ${lim.before} → ${lim.soft}, hard ${lim.hard}`);
    this.#logger.info({ engine: this.#engine.kind, threads: this.#engine.threads }, `app proxies on the ${this.#engine.kind} engine`);
    for (const cfg of this.#config.apps) this.#addApp(cfg);
    const problems = await this.#applyListeners();
    if (problems.length > 0 && !this.#allowPartial) {
      throw new ProxyctlError('PXC_ERR_LISTEN', `${problems.join('; ')} (agent start --allow-partial serves the other ports)`);
    }
  }

  /** Applies a new config; returns the listeners it could not open (the rest is applied). */
  async reload(config: Config): Promise<string[]> {
    const f = config.forward;
    const was = this.#config.forward;
    if (f.engine !== was.engine || f.threads !== was.threads) this.#logger.warn('forward.engine and forward.threads take effect at the next agent start');
    const next = new Map(config.apps.map((a) => [a.name, a]));
    for (const [name, app] of this.#apps) if (!next.has(name)) this.#retire(app);
    this.#config = config;
    for (const cfg of config.apps) {
      const app = this.#apps.get(cfg.name);
      if (app) app.update(cfg, this.#targetsOf(cfg), config.foo, config.forward);
      else this.#addApp(cfg);
    }
    return this.#applyListeners();
  }

  /**
   * Agent shutdown: stop accepting, let open connections finish for
   * forward.shutdown_grace, then close both sides of whatever is left. Resolves
   * once the engine has stopped: nothing outlives "agent stopped".
   */
  async close(): Promise<void> {
    for (const e of this.#listeners.values()) e.listener.close();
    this.#listeners.clear();
    const apps = [...this.#apps.values(), ...this.#retired];
    const idle = Promise.all(apps.map((a) => new Promise<void>((resolve) => a.retire(resolve))));
    const graceMs = this.#config.forward.shutdown_grace * 1000;
    if (graceMs > 0 && apps.some((a) => a.active > 0)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    const open = apps.reduce((n, a) => n + a.active, 0);
    if (open > 0) this.#logger.info({ connections: open }, `closing ${open} app connection(s) still open`);
    for (const a of apps) a.closeConnections();
    // Closing is asynchronous in both engines; it takes a moment, not a grace period.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.#engine.close();
    for (const a of apps) a.removeStats();
    this.#apps.clear();
    this.#retired.clear();
  }

  #addApp(cfg: AppConfig): void {
    const app = new App(cfg, this.#targetsOf(cfg), this.#config.foo, this.#config.forward, this.#engine, this.#stats.scope('apps', { app: cfg.name }), this.#logger, this.#events);
    this.#apps.set(cfg.name, app);
  }

  /**
   * `parameters`: apps (one value, as arrays are) is a run-time setting while an app has target
   * changes made at run time; it shows every app with the targets it runs on.
   */
  runtimeParameters(): Record<string, unknown> {
    if (this.#config.apps.every((cfg) => empty(this.#runtime.get(cfg.name)))) return {};
    return { apps: this.#config.apps.map((cfg) => ({ ...cfg, targets: this.#targetsOf(cfg).map(({ address, weight }) => ({ address, weight })) })) };
  }

  /** The app's config targets with its run-time changes laid over them. */
  #targetsOf(cfg: AppConfig) {
    return effectiveTargets(cfg.targets, this.#runtime.get(cfg.name));
  }

  #retire(app: App): void {
    this.#apps.delete(app.name);
    this.#retired.add(app);
    app.retire(() => {
      this.#retired.delete(app);
      // The same name may be back under a new config: its metrics are the live ones.
      if (!this.#apps.has(app.name)) app.removeStats();
    });
  }

  // ---- listeners ---------------------------------------------------------

  /**
   * Makes the listeners match the apps' ports. A listener on the same bind
   * and port is kept (and handed to its new app if the port moved); a new one
   * is bound before an old one of the same app and port is closed, so a bind
   * that fails (a bad address, a port in use) leaves the app serving where it
   * was. Returns one problem per listener that could not be opened.
   */
  async #applyListeners(): Promise<string[]> {
    const wanted: WantedPort[] = [];
    for (const app of this.#apps.values()) {
      const { bind, ports } = app.config;
      let zeros = 0;
      for (const port of ports) wanted.push({ key: port === 0 ? `${app.name}\0${bind}\0#${zeros++}` : `${bind}\0${port}`, bind, port, app });
    }
    const old = this.#listeners;
    const next = new Map<string, ListenerEntry>();
    const errors = new Map<string, string>();
    const problems: string[] = [];
    for (const w of wanted) {
      const e = old.get(w.key);
      if (!e) continue;
      if (e.app !== w.app) e.listener.setApp(w.app.engineApp);
      e.app = w.app;
      next.set(w.key, e);
      old.delete(w.key);
    }
    for (const w of wanted) {
      if (next.has(w.key)) continue;
      const err = await this.#bind(w, old, next);
      if (err === null) continue;
      let problem = `app ${w.app.name}: ${err}`;
      // The same app and port on its previous bind address keeps serving until a bind succeeds.
      const prev = w.port === 0 ? undefined : [...old.values()].find((o) => o.app.name === w.app.name && o.listener.port === w.port);
      if (prev) {
        prev.listener.setApp(w.app.engineApp);
        prev.app = w.app;
        old.delete(prev.key);
        next.set(prev.key, prev);
        problem += ` (still listening on ${prev.bind}:${prev.listener.port})`;
      }
      errors.set(`${w.app.name}\0${w.key}`, problem);
      problems.push(problem);
    }
    for (const e of old.values()) e.listener.close();
    this.#listeners = next;
    this.#portErrors = errors;
    for (const app of this.#apps.values()) {
      const mine = wanted.filter((w) => w.app === app);
      app.setPorts(mine.map((w): PortInfo => this.#portInfo(w, next)));
    }
    for (const p of problems) this.#logger.error(p);
    return problems;
  }

  #portInfo(w: WantedPort, next: Map<string, ListenerEntry>): PortInfo {
    const e = next.get(w.key);
    if (e) return { port: w.port, bound_port: e.listener.port, state: 'listening', error: null };
    const error = this.#portErrors.get(`${w.app.name}\0${w.key}`) ?? null;
    const kept = w.port === 0 ? undefined : [...next.values()].find((o) => o.app === w.app && o.listener.port === w.port);
    return { port: w.port, bound_port: kept ? kept.listener.port : null, state: kept ? 'listening' : 'error', error };
  }

  /** Binds one wanted port; returns null or why it failed. */
  async #bind(w: WantedPort, old: Map<string, ListenerEntry>, next: Map<string, ListenerEntry>): Promise<string | null> {
    let host = w.bind;
    if (!isIP(host)) {
      try {
        host = (await lookup(host)).address;
      } catch (err) {
        return `cannot listen on ${w.bind}:${w.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    }
    const attempt = async (): Promise<ListenError | null> => {
      try {
        const listener = await this.#engine.listen(host, w.port, w.app.engineApp, backlogOf(w.app));
        next.set(w.key, { key: w.key, bind: w.bind, host, port: w.port, app: w.app, listener });
        return null;
      } catch (err) {
        if (err instanceof ListenError) return err;
        throw err;
      }
    };
    let err = await attempt();
    if (err?.code === 'EADDRINUSE' && w.port !== 0) {
      // Held by a listener of ours that is going away (the bind address changed): free it and retry.
      const holder = [...old.values()].find((o) => o.listener.port === w.port);
      if (holder) {
        holder.listener.close();
        old.delete(holder.key);
        err = await attempt();
        if (err) {
          // Put the old one back if we can, so nothing stops serving.
          try {
            holder.listener = await this.#engine.listen(holder.host, holder.port, holder.app.engineApp, backlogOf(holder.app));
            old.set(holder.key, holder);
          } catch {
            // lost: the problem below names the port
          }
        }
      }
    }
    if (err === null) return null;
    return err.code === 'EADDRINUSE' ? `port ${w.port} already in use` : `cannot listen on ${w.bind}:${w.port}: ${err.code}`;
  }

  // ---- queries and runtime commands ---------------------------------------

  app(name: string): App {
    const app = this.#apps.get(name);
    if (!app) throw new ProxyctlError('PXC_ERR_UNKNOWN_APP', `no app named "${name}"${this.#apps.size ? ` (apps: ${[...this.#apps.keys()].join(', ')})` : ' (no apps configured)'}`);
    return app;
  }

  list(): AppInfo[] {
    return [...this.#apps.values()].map((a) => a.info());
  }

  connections(app: string, address: string): number {
    return this.#apps.get(app)?.target(address)?.active ?? 0;
  }

  /** `app sessions`: open connections of an app (the engine's view), oldest first, at most `limit`. */
  async sessions(name: string, limit: number): Promise<AppSessions> {
    const app = this.app(name);
    const sessions = await app.connections(limit);
    sessions.sort((a, b) => b.age_ms - a.age_ms);
    return { app: name, active: app.active, sessions };
  }

  /** `app stats`: HAProxy `show stat` rows (FRONTEND, one per target, BACKEND) of one app or all. */
  stats(name: string | undefined): AppStats {
    const apps = name === undefined ? [...this.#apps.values()] : [this.app(name)];
    const iid = new Map([...this.#apps.keys()].map((n, i) => [n, i + 1]));
    return { rows: apps.flatMap((a) => statRows(a, iid.get(a.name)!)) };
  }

  #target(app: App, address: string): Target {
    const t = app.target(address);
    if (!t) throw new ProxyctlError('PXC_ERR_UNKNOWN_TARGET', `app "${app.name}" has no target ${address}${app.targetList.length ? ` (targets: ${app.targetList.map((x) => x.address).join(', ')})` : ''}`);
    return t;
  }

  setTargetState(appName: string, address: string, state: AdminState): TargetChange {
    const app = this.app(appName);
    const t = this.#target(app, address);
    if (t.state !== state) {
      const was = t.state;
      app.setTargetState(t, state);
      this.#logger.info({ app: appName, target: t.address, from: was, to: state }, `target ${state}`);
    }
    return { app: appName, change: state, target: t.info() };
  }

  /** `target add`: a target at run time (health unknown until its first check; kept until app reset). */
  addRuntimeTarget(appName: string, address: string, weight: number): TargetChange {
    const app = this.app(appName);
    const key = checkAddress(address);
    this.#runtime.add(appName, app.config.targets, key, weight, app.target(key) !== undefined);
    app.setTargets(this.#targetsOf(app.config));
    this.#logger.info({ app: appName, target: key, weight }, 'target added at run time');
    return { app: appName, change: 'added', target: this.#target(app, key).info() };
  }

  /** `target remove`: no new connections to it; open ones continue until they close. */
  removeRuntimeTarget(appName: string, address: string): TargetChange {
    const app = this.app(appName);
    const t = this.#target(app, address);
    if (t.isDynamic) throw new ProxyctlError('PXC_ERR_SERVICE_TARGET', `target ${t.address} of app "${appName}" is a service's instance: deploys add and remove it`);
    this.#runtime.remove(appName, app.config.targets, t.address);
    app.setTargets(this.#targetsOf(app.config));
    this.#logger.info({ app: appName, target: t.address, open: t.active }, 'target removed at run time');
    return { app: appName, change: 'removed', target: t.info() };
  }

  /** `target weight`: its share of new connections (0 drains it). A service's instance keeps the weight as long as it lives. */
  setTargetWeight(appName: string, address: string, weight: number): TargetChange {
    const app = this.app(appName);
    const t = this.#target(app, address);
    if (t.origin === null) app.setDynamicWeight(t, weight);
    else {
      this.#runtime.setWeight(appName, app.config.targets, t.address, weight);
      app.setTargets(this.#targetsOf(app.config));
    }
    this.#logger.info({ app: appName, target: t.address, weight }, `target weight ${weight}`);
    return { app: appName, change: 'weight', target: t.info() };
  }

  /** `app reset`: drops the app's run-time target changes; its targets are the config's again. */
  resetApp(appName: string): AppReset {
    const app = this.app(appName);
    const dropped = this.#runtime.reset(appName);
    app.setTargets(this.#targetsOf(app.config));
    if (dropped) this.#logger.info({ app: appName }, 'run-time target changes dropped (app reset)');
    return { app: appName, dropped, targets: app.info().targets };
  }

  // ---- AppTargets ------------------------------------------------------------

  hasApp(app: string): boolean {
    return this.#apps.has(app);
  }

  listening(app: string): Array<{ host: string; port: number }> {
    const a = this.#apps.get(app);
    if (!a) return [];
    const bound = new Map([...this.#listeners.values()].filter((e) => e.app === a).map((e) => [e.listener.port, e.host]));
    return a.ports.flatMap((p) => (p.bound_port === null || !bound.has(p.bound_port) ? [] : [{ host: bound.get(p.bound_port)!, port: p.bound_port }]));
  }

  addTarget(app: string, address: string): void {
    if (!parseHostPort(address)) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `malformed target "${address}" (expected host:port)`);
    this.app(app).addDynamicTarget(address);
  }

  removeTarget(app: string, address: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    const a = this.#apps.get(app);
    if (!a) return Promise.resolve();
    return a.removeDynamicTarget(address, opts.timeoutMs);
  }
}

/** A target address as the app keys it, or a usage error. */
function checkAddress(address: string): string {
  if (!parseHostPort(address)) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `malformed target "${address}" (expected host:port with port 1-65535)`);
  return normalise(address);
}

/** The app proxies; their API is AppTargets, through which services fill an app's targets. */
export function createForward(ctx: SubsystemContext) {
  const fwd = new Forward(ctx);
  return { subsystem: fwd, commands: forwardCommands(fwd), api: fwd as AppTargets } satisfies SubsystemParts<Forward, readonly AnyCommand[], AppTargets>;
}

/**
 * The listen backlog of an app's ports: its max_connections, as HAProxy sizes a frontend's
 * (the kernel caps it at net.core.somaxconn). Node's 511 drops the SYNs of a larger burst,
 * and those clients wait a second for the retransmission.
 */
function backlogOf(app: App): number {
  return app.config.max_connections;
}
