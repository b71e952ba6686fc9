import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, parseConfig, readConfigJson } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { EventBus } from '../control/events.js';
import { CommandRegistry, type TalkRenderers } from '../control/registry.js';
import { ControlServer } from '../control/server.js';
import { StatsRegistry } from '../stats/registry.js';
import { registerProcessStats } from '../stats/process-stats.js';
import { StateStore } from '../state/state-db.js';
import { ensureDir, formatMode, secureStateDir } from '../state/state-dir.js';
import { StateDirLock } from '../state/state-lock.js';
import { ProxyctlError } from '../errors.js';
import { noFleet, overlayFleet, startFleet, type FleetCommands, type FleetNode, type FleetSnapshot } from '../fleet/api.js';
import { packageVersion } from '../version.js';
import { agentCommands } from './command-list.js';
import type { AgentInfo, ReloadResult } from './core-commands.js';
import { fleetHost } from './fleet-host.js';
import { parametersCommands } from './parameters.js';
import { closeInOrder, shutdownBudgetMs, type StepOutcome } from './shutdown.js';
import type { Subsystem, SubsystemContext } from './subsystem.js';
import { createSubsystems, type AgentParts } from './subsystems.js';

export interface AgentOptions {
  /** The validated config to start with (loaded from configPath by the caller). */
  config: Config;
  configPath: string | null;
  stateDir: string;
  socketPath: string;
  logger: Logger;
  /** Called when a client asks the agent to shut down, with the seconds it will wait (agent stop --timeout), if it said. */
  onShutdownRequest: (timeoutS?: number) => void;
  /** agent start --allow-partial: serve even if some app port cannot be opened. */
  allowPartial?: boolean;
  /** The talk layouts kept in src/ui (see CommandRegistry.useTalkRenderers); without them talk replies use each command's own. */
  talkRenderers?: () => Promise<TalkRenderers>;
}

/**
 * The running agent: config, stats, state DB, control socket and subsystems,
 * wired together. It never exits the process; the entry point decides that.
 */
export class Agent {
  readonly stats = new StatsRegistry();
  readonly registry = new CommandRegistry();
  readonly events = new EventBus({ stats: this.stats.scope('events') });
  readonly #opts: AgentOptions;
  readonly #startedAt = Date.now();
  readonly #version = packageVersion();
  #config: Config;
  #lock: StateDirLock | undefined;
  #state: StateStore | undefined;
  #control: ControlServer | undefined;
  #subsystems: Subsystem[] = [];
  #parts: AgentParts | undefined;
  #stopProcessStats: (() => void) | undefined;
  #reloading: Promise<unknown> | undefined;
  /** With a `cluster` key: the fleet, and the config file's JSON as last read (what fleet documents overlay). */
  #fleet: FleetNode | undefined;
  #fileJson: unknown;

  private constructor(opts: AgentOptions, config: Config) {
    this.#opts = opts;
    this.#config = config;
    if (opts.talkRenderers) this.registry.useTalkRenderers(opts.talkRenderers);
  }

  get config(): Config {
    return this.#config;
  }

  /**
   * Locks the state dir (refusing a second agent), opens the socket (refusing
   * a live one on the same path), the state DB, then starts every subsystem.
   */
  static async start(opts: AgentOptions): Promise<Agent> {
    const agent = new Agent(opts, opts.config);
    try {
      await agent.#start();
    } catch (err) {
      await agent.close();
      throw err;
    }
    return agent;
  }

  async #start(): Promise<void> {
    const { logger, stateDir, socketPath } = this.#opts;
    const config = this.#config;
    // The state dir's lock before anything else: a second agent must be refused before it touches shared state.
    ensureDir(stateDir, 'state dir');
    this.#lock = StateDirLock.acquire(stateDir, { pid: process.pid, socket: socketPath });
    const loose = secureStateDir(stateDir);
    if (loose?.tightened) logger.warn({ state_dir: stateDir, mode: formatMode(loose.mode) }, `state dir ${stateDir} was mode ${formatMode(loose.mode)} (group or others could read state.db and the logs); changed to 0700`);
    else if (loose) logger.warn({ state_dir: stateDir, mode: formatMode(loose.mode), owner_uid: loose.foreignOwner }, `state dir ${stateDir} is mode ${formatMode(loose.mode)} and owned by uid ${loose.foreignOwner}, not this agent's user: group or others may read state.db and the logs`);
    this.#control = new ControlServer(this.registry, this.stats, logger.child({ sub: 'control' }), {
      path: socketPath,
      mode: parseInt(config.control.mode, 8),
      group: config.control.group,
      maxLine: config.control.max_line,
      idleTimeoutMs: config.control.idle_timeout * 1000,
      maxConnections: config.control.max_connections,
      events: this.events,
    });
    this.#stopProcessStats = registerProcessStats(this.stats);
    await this.#control.listen();
    this.#state = new StateStore(join(stateDir, 'state.db'));
    const ctx: SubsystemContext = {
      config,
      stateDir,
      stats: this.stats,
      logger,
      state: this.#state,
      events: this.events,
      allowPartial: this.#opts.allowPartial ?? false,
    };
    const fleet = await this.#joinFleet(ctx);
    this.#config = fleet.config;
    // What `parameters` tells file keys from defaults by (the caller validated this file already).
    if (this.#fileJson === undefined) this.#fileJson = await readConfigJson(this.#opts.configPath).catch(() => ({}));
    this.#parts = createSubsystems({ ...ctx, config: this.#config });
    // Every command at once, before the socket answers (requests wait for open() below).
    const control = {
      info: () => this.info(),
      reload: () => this.reload(),
      stats: () => this.stats.snapshot(),
      shutdown: (timeoutS?: number) => this.#opts.onShutdownRequest(timeoutS),
      commands: () => this.registry.list(),
    };
    const parameters = parametersCommands({ config: () => this.#config, layers: () => this.#parameterLayers() });
    this.registry.add(...agentCommands(control, this.events, fleet.commands, this.#parts, parameters));
    for (const s of this.#parts.subsystems) {
      await s.start();
      this.#subsystems.push(s);
    }
    // Last to start, first to close: fleet changes apply only to a running agent.
    if (this.#fleet) {
      await this.#fleet.start();
      this.#subsystems.push(this.#fleet);
    }
    this.#control.open();
    logger.info({ socket: socketPath, state_dir: stateDir, config: this.#opts.configPath, version: this.#version }, 'agent started');
  }

  info(): AgentInfo {
    return {
      pid: process.pid,
      version: this.#version,
      uptime_s: Math.floor((Date.now() - this.#startedAt) / 1000),
      socket: this.#opts.socketPath,
      state_dir: this.#opts.stateDir,
      config_path: this.#opts.configPath,
      engine: this.#subsystems.find((s) => s.engine !== undefined)?.engine ?? null,
      metrics: this.#parts?.metrics.url ?? null,
      ...(this.#fleet ? { fleet: this.#fleet.info() } : {}),
    };
  }

  /**
   * Without `cluster`, the config file as it is (and the fleet commands answer
   * "not in a fleet"; no fleet code loads). With it, the fleet joins, and the
   * agent starts on the file overlaid by the fleet documents it last applied
   * (state.db): an agent restarted while etcd is away serves what it served.
   */
  async #joinFleet(ctx: SubsystemContext): Promise<{ config: Config; commands: FleetCommands }> {
    const config = this.#config;
    if (!config.cluster) return { config, commands: noFleet().commands };
    this.#fileJson = await readConfigJson(this.#opts.configPath);
    const { subsystem: fleet, commands } = await startFleet({
      ...ctx,
      cluster: config.cluster,
      host: fleetHost({ apply: (snap) => this.#applyFleet(snap), config: () => this.#config, parts: () => this.#parts, engine: () => this.info().engine }),
    });
    this.#fleet = fleet;
    const snap = fleet.snapshot();
    if (!snap) return { config, commands };
    try {
      const effective = this.#validate(this.#fileJson, snap);
      fleet.applied(snap);
      return { config: effective, commands };
    } catch (err) {
      fleet.refused(snap, (err as Error).message);
      return { config, commands };
    }
  }

  /**
   * Re-reads the config file and hands it (overlaid by the fleet documents, in
   * a fleet) to every subsystem. An invalid result throws a ConfigError naming
   * each bad path and changes nothing.
   */
  reload(): Promise<ReloadResult> {
    return this.#serialised(async () => {
      const { logger, configPath } = this.#opts;
      let fileJson: unknown;
      let config: Config;
      const snap = this.#fleet?.snapshot() ?? null;
      try {
        fileJson = await readConfigJson(configPath);
        config = this.#validate(fileJson, snap);
      } catch (err) {
        if (err instanceof ConfigError) logger.error({ problems: err.problems }, `reload refused, running config kept: ${err.message}`);
        this.events.publish('agent.reload', { config_path: configPath, ok: false, error: (err as Error).message });
        throw err;
      }
      try {
        await this.#apply(config);
      } catch (err) {
        this.events.publish('agent.reload', { config_path: configPath, ok: false, error: (err as Error).message });
        throw err;
      }
      this.#fileJson = fileJson;
      if (snap) this.#fleet!.applied(snap);
      logger.info({ config: configPath, fleet_revision: snap?.revision }, 'config reloaded');
      this.events.publish('agent.reload', { config_path: configPath, ok: true, error: null });
      return { config_path: configPath, reloaded: true };
    });
  }

  /** New fleet documents: the file as last read, overlaid by them, through the same path as reload(). */
  #applyFleet(snap: FleetSnapshot): Promise<void> {
    return this.#serialised(async () => {
      await this.#apply(this.#validate(this.#fileJson, snap));
      this.#fleet!.applied(snap);
      this.events.publish('agent.reload', { config_path: `${this.#opts.configPath ?? 'defaults'} + fleet revision ${snap.revision}`, ok: true, error: null });
    });
  }

  /** The config's layers for `parameters`: the file, the fleet's overlay, and every subsystem's run-time overrides. */
  #parameterLayers() {
    const runtime = Object.assign({}, ...this.#subsystems.map((s) => s.runtimeParameters?.() ?? {})) as Record<string, unknown>;
    const snap = this.#fleet?.snapshot() ?? null;
    return { file: this.#fileJson, fleet: snap ? overlayFleet(this.#fileJson, snap.docs) : undefined, runtime };
  }

  /** The one validation of a config: the file's JSON, or the file overlaid by fleet documents. */
  #validate(fileJson: unknown, snap: FleetSnapshot | null): Config {
    const source = this.#opts.configPath ?? 'defaults';
    if (!snap) return parseConfig(fileJson, source);
    return parseConfig(overlayFleet(fileJson, snap.docs), `${source} + fleet revision ${snap.revision}`);
  }

  /**
   * Hands a validated config to every subsystem. What a subsystem could not
   * apply (a listener that would not open) is applied everywhere else and then
   * thrown: the caller must hear about it (exit 1), not read "reloaded".
   */
  async #apply(config: Config): Promise<void> {
    const problems: string[] = [];
    for (const s of this.#subsystems) problems.push(...((await s.reload(config)) ?? []));
    this.#config = config;
    if (problems.length > 0) {
      this.#opts.logger.error({ config: this.#opts.configPath, problems }, 'config reloaded with problems');
      throw new ProxyctlError('PXC_ERR_LISTEN', `config reloaded, but ${problems.length === 1 ? problems[0] : `${problems.length} listeners could not be opened: ${problems.join('; ')}`}`);
    }
  }

  /** Two reloads at once would interleave subsystem updates: each waits for the one before. */
  #serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = (this.#reloading ?? Promise.resolve()).catch(() => undefined).then(run);
    this.#reloading = next;
    return next;
  }

  /**
   * Stops within `budgetMs` (default: forward.shutdown_grace + the longest
   * service stop_timeout + 2 s, see shutdown.ts). New commands are refused at
   * once; subsystems close in reverse order of start, one that overruns the
   * deadline is abandoned; then the state DB closes, and last the socket file
   * and the state-dir lock go, so no second agent can start beside this one
   * while anything of it still runs. Never throws; returns what each
   * subsystem's close came to.
   */
  async close(budgetMs = shutdownBudgetMs(this.#config)): Promise<StepOutcome[]> {
    const deadline = Date.now() + budgetMs;
    this.#control?.refuseNew();
    const started = [...this.#subsystems];
    const outcomes = await closeInOrder(this.#subsystems.reverse(), deadline, this.#opts.logger);
    this.#subsystems = [];
    // A fleet joined by a start that failed before the fleet was started (and so was not closed above).
    if (this.#fleet && !started.includes(this.#fleet)) await this.#fleet.close().catch(() => undefined);
    this.#fleet = undefined;
    this.#parts = undefined;
    try {
      this.#state?.close();
    } catch (err) {
      this.#opts.logger.error({ err }, 'state DB failed to close');
    }
    this.#state = undefined;
    this.#stopProcessStats?.();
    this.events.close();
    this.stats.close();
    await this.#control?.close();
    this.#control = undefined;
    this.#lock?.release();
    this.#lock = undefined;
    return outcomes;
  }
}
