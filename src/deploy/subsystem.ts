import type { Subsystem, SubsystemContext, SubsystemParts } from '../agent/subsystem.js';
import type { Config, ServiceConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { AppTargets } from '../forward/api.js';
import { deployCommands, type ServiceDirectory } from './commands.js';
import { DeploymentController } from './controller.js';
import { ServiceHistory } from './history.js';
import { InstanceLedger } from './leftovers.js';
import { proxyctlBin, type PlaceholderValues } from './placeholders.js';
import { InstanceClient } from './probe.js';

/** How long a leftover of a service no longer in the config gets between SIGTERM and SIGKILL. */
const DEFAULT_REAP_STOP_MS = 10_000;

/**
 * The services subsystem: one DeploymentController per configured service,
 * each filling its app's targets through `AppTargets` (forward's public API).
 * Start stops what a crashed agent left running (InstanceLedger), then starts
 * every service on the version it ran before (state.db; the config's the
 * first time) and waits for them; close stops every
 * instance (SIGTERM, SIGKILL after stop_timeout), abort SIGKILLs them.
 */
export class DeploySubsystem implements Subsystem, ServiceDirectory {
  readonly name = 'deploy';
  readonly #ctx: SubsystemContext;
  readonly #targets: AppTargets;
  readonly #client = new InstanceClient();
  readonly #controllers = new Map<string, DeploymentController>();
  readonly #placeholders: PlaceholderValues;
  readonly #ledger: InstanceLedger;
  readonly #history: ServiceHistory;
  /** Controllers not yet closed, those a reload removed included: abort() reaches their instances. */
  readonly #open = new Set<DeploymentController>();
  #config: Config;

  constructor(ctx: SubsystemContext, targets: AppTargets) {
    this.#ctx = ctx;
    this.#targets = targets;
    this.#config = ctx.config;
    this.#placeholders = { proxyctl: proxyctlBin(), node: process.execPath, state_dir: ctx.stateDir };
    this.#ledger = new InstanceLedger(ctx.state.db);
    this.#history = new ServiceHistory(ctx.state.db);
  }

  async start(): Promise<void> {
    // Instances a crashed agent left running would hold their ports and state: stopped before anything launches.
    const stopMs = new Map(this.#config.services.map((s) => [s.name, s.stop_timeout * 1000]));
    await this.#ledger.reap((service) => stopMs.get(service) ?? DEFAULT_REAP_STOP_MS, this.#ctx.logger.child({ sub: 'deploy' }));
    for (const svc of this.#config.services) this.#add(svc);
    await Promise.all([...this.#controllers.values()].map((c) => this.#initialDeploy(c)));
  }

  async reload(config: Config): Promise<void> {
    this.#config = config;
    const wanted = new Map(config.services.map((s) => [s.name, s]));
    for (const [name, c] of this.#controllers) {
      if (wanted.has(name)) continue;
      this.#controllers.delete(name);
      this.#ctx.logger.info({ service: name }, `service ${name} removed from the config: stopping its instances`);
      await c.close();
      this.#open.delete(c);
    }
    for (const svc of config.services) {
      const c = this.#controllers.get(svc.name);
      if (c) {
        if (JSON.stringify(c.config) !== JSON.stringify(svc)) this.#ctx.logger.info({ service: svc.name }, `service ${svc.name} changed: applies from its next deploy`);
        c.updateConfig(svc);
      } else {
        void this.#initialDeploy(this.#add(svc));
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#controllers.values()].map((c) => c.close()));
    this.#controllers.clear();
    this.#open.clear();
    await this.#client.close();
  }

  /** The agent's stop deadline passed while instances were stopping: SIGKILL them, nothing may outlive the agent. */
  abort(): void {
    for (const c of this.#open) c.kill();
  }

  controller(name: string): DeploymentController {
    const c = this.#controllers.get(name);
    if (!c) throw new ProxyctlError('PXC_ERR_UNKNOWN_SERVICE', `no service named "${name}"${this.#controllers.size ? ` (services: ${[...this.#controllers.keys()].join(', ')})` : ' (none configured)'}`);
    return c;
  }

  /**
   * `parameters`: services (one value, as arrays are) is a run-time setting while a `service
   * scale` holds over a service's configured instances.
   */
  runtimeParameters(): Record<string, unknown> {
    const scaled = this.#config.services.map((s) => ({ ...s, instances: this.#controllers.get(s.name)?.summary().scale ?? s.instances }));
    return scaled.some((s, i) => s.instances !== this.#config.services[i]!.instances) ? { services: scaled } : {};
  }

  list(): DeploymentController[] {
    return [...this.#controllers.values()];
  }

  endpoint(name: string): { service: string; app: string; url: string } {
    const svc = this.controller(name).config;
    const app = this.#config.apps.find((a) => a.name === svc.app);
    if (!app) throw new ProxyctlError('PXC_ERR_UNKNOWN_APP', `service ${name}: no app named "${svc.app}"`);
    // the port the app has bound (a configured 0 is the kernel's choice), on an address a local client can reach
    const at = this.#targets.listening(app.name)[0];
    if (!at) throw new ProxyctlError('PXC_ERR_LISTEN', `service ${name}: app ${app.name} is not listening on any of its ports (${app.ports.join(', ')}); see app info ${app.name}`);
    const host = at.host === '0.0.0.0' ? '127.0.0.1' : at.host === '::' ? '::1' : at.host;
    return { service: name, app: app.name, url: `http://${host.includes(':') ? `[${host}]` : host}:${at.port}${svc.ready.path}` };
  }

  #add(svc: ServiceConfig): DeploymentController {
    const c = new DeploymentController(svc, {
      targets: this.#targets,
      logger: this.#ctx.logger.child({ sub: 'deploy' }),
      stats: this.#ctx.stats.scope('services', { service: svc.name }),
      client: this.#client,
      placeholders: this.#placeholders,
      ledger: this.#ledger,
      history: this.#history,
      events: this.#ctx.events,
    });
    this.#controllers.set(svc.name, c);
    this.#open.add(c);
    return c;
  }

  /** The version that served when the agent last stopped comes back (the config's, the first time); a stopped service stays stopped. */
  async #initialDeploy(c: DeploymentController): Promise<void> {
    if (!this.#targets.hasApp(c.config.app)) {
      this.#ctx.logger.error({ service: c.name, app: c.config.app }, `service ${c.name}: app ${c.config.app} is not running; no deploy`);
      return;
    }
    if (c.state === 'STOPPED') {
      this.#ctx.logger.info({ service: c.name }, `service ${c.name} was stopped with 'service stop': not started (proxyctl service start ${c.name})`);
      return;
    }
    c.start();
    await c.settled();
  }
}

/** The services, filling their apps' targets through forward's AppTargets. */
export function createDeploy(ctx: SubsystemContext, deps: { targets: AppTargets }) {
  const deploy = new DeploySubsystem(ctx, deps.targets);
  return { subsystem: deploy, commands: deployCommands(deploy), api: undefined } satisfies SubsystemParts<DeploySubsystem>;
}
