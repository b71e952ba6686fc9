import type { Logger } from 'pino';
import type { Subsystem, SubsystemContext } from '../agent/subsystem.js';
import type { AppConfig, Config } from '../config/schema.js';
import { parseHostPort } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { StatsRegistry } from '../stats/registry.js';
import type { AppTargets } from './api.js';
import { App, type AppInfo } from './app.js';
import { registerForwardCommands } from './commands.js';
import type { AdminState } from './target.js';

/**
 * The app proxies: one App per configured app, built on start and diffed on
 * reload. Also the AppTargets API services use to fill an app's targets.
 */
export class Forward implements Subsystem, AppTargets {
  readonly name = 'forward';
  readonly #stats: StatsRegistry;
  readonly #logger: Logger;
  #config: Config;
  readonly #apps = new Map<string, App>();
  /** Apps removed by a reload whose connections are still open. */
  readonly #retired = new Set<App>();

  constructor(ctx: SubsystemContext) {
    this.#stats = ctx.stats;
    this.#logger = ctx.logger.child({ sub: 'forward' });
    this.#config = ctx.config;
    registerForwardCommands(ctx.registry, this);
  }

  /** The API handed to services (src/deploy). */
  get targets(): AppTargets {
    return this;
  }

  async start(): Promise<void> {
    await Promise.all(this.#config.apps.map((a) => this.#addApp(a)));
  }

  async reload(config: Config): Promise<void> {
    const next = new Map(config.apps.map((a) => [a.name, a]));
    // Free ports first, so a port moving from one app to another can be opened below.
    for (const [name, app] of this.#apps) {
      const cfg = next.get(name);
      if (cfg) app.closePortsNotIn(cfg);
      else this.#retire(app);
    }
    this.#config = config;
    await Promise.all(
      config.apps.map((cfg) => {
        const app = this.#apps.get(cfg.name);
        return app ? app.update(cfg, config.foo) : this.#addApp(cfg);
      }),
    );
  }

  async close(): Promise<void> {
    for (const app of [...this.#apps.values(), ...this.#retired]) {
      app.close();
      app.removeStats();
    }
    this.#apps.clear();
    this.#retired.clear();
  }

  async #addApp(cfg: AppConfig): Promise<void> {
    const app = new App(cfg, this.#config.foo, this.#stats.scope('apps', { app: cfg.name }), this.#logger);
    this.#apps.set(cfg.name, app);
    await app.start();
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

  // ---- queries and runtime commands ---------------------------------------

  app(name: string): App {
    const app = this.#apps.get(name);
    if (!app) throw new ProxyctlError('PXC_ERR_UNKNOWN_APP', `no app named "${name}"${this.#apps.size ? ` (apps: ${[...this.#apps.keys()].join(', ')})` : ' (no apps configured)'}`);
    return app;
  }

  list(): AppInfo[] {
    return [...this.#apps.values()].map((a) => a.info());
  }

  setTargetState(appName: string, address: string, state: AdminState): void {
    const app = this.app(appName);
    const t = app.target(address);
    if (!t) throw new ProxyctlError('PXC_ERR_UNKNOWN_TARGET', `app "${appName}" has no target ${address}`);
    if (t.state === state) return;
    const was = t.state;
    t.state = state;
    this.#logger.info({ app: appName, target: t.address, from: was, to: state }, `target ${state}`);
  }

  // ---- AppTargets ------------------------------------------------------------

  hasApp(app: string): boolean {
    return this.#apps.has(app);
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

  connections(app: string, address: string): number {
    return this.#apps.get(app)?.target(address)?.active.value ?? 0;
  }
}

export function createForward(ctx: SubsystemContext): Forward {
  return new Forward(ctx);
}
