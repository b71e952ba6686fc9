import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig, ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { eventCommands } from '../control/event-commands.js';
import { EventBus } from '../control/events.js';
import { CommandRegistry } from '../control/registry.js';
import { ControlServer } from '../control/server.js';
import { StatsRegistry } from '../stats/registry.js';
import { registerProcessStats } from '../stats/process-stats.js';
import { StateStore } from '../state/state-db.js';
import { ensureDir, formatMode, secureStateDir } from '../state/state-dir.js';
import { StateDirLock } from '../state/state-lock.js';
import { packageVersion } from '../version.js';
import { registerCoreCommands, type AgentInfo, type ReloadResult } from './core-commands.js';
import { closeInOrder, shutdownBudgetMs, type StepOutcome } from './shutdown.js';
import type { Subsystem } from './subsystem.js';
import { createSubsystems } from './subsystems.js';

export interface AgentOptions {
  /** The validated config to start with (loaded from configPath by the caller). */
  config: Config;
  configPath: string | null;
  stateDir: string;
  socketPath: string;
  logger: Logger;
  /** Called when a client asks the agent to shut down, with the seconds it will wait (agent stop --timeout), if it said. */
  onShutdownRequest: (timeoutS?: number) => void;
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
  #stopProcessStats: (() => void) | undefined;
  #reloading: Promise<ReloadResult> | undefined;

  private constructor(opts: AgentOptions, config: Config) {
    this.#opts = opts;
    this.#config = config;
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
    this.registry.add(...eventCommands(this.events));
    registerCoreCommands(this.registry, {
      info: () => this.info(),
      reload: () => this.reload(),
      stats: () => this.stats.snapshot(),
      shutdown: (timeoutS) => this.#opts.onShutdownRequest(timeoutS),
    });
    this.#stopProcessStats = registerProcessStats(this.stats);
    await this.#control.listen();
    this.#state = new StateStore(join(stateDir, 'state.db'));
    const subsystems = createSubsystems({
      config,
      stateDir,
      stats: this.stats,
      logger,
      state: this.#state,
      registry: this.registry,
      events: this.events,
    });
    for (const s of subsystems) {
      await s.start();
      this.#subsystems.push(s);
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
    };
  }

  /**
   * Re-reads the config file and hands it to every subsystem. An invalid file
   * throws a ConfigError naming each bad path and changes nothing.
   */
  reload(): Promise<ReloadResult> {
    // Two reloads at once would interleave subsystem updates: the second waits for the first.
    const run = async (): Promise<ReloadResult> => {
      const { logger, configPath } = this.#opts;
      let config: Config;
      try {
        config = await loadConfig(configPath);
      } catch (err) {
        if (err instanceof ConfigError) logger.error({ problems: err.problems }, `reload refused, running config kept: ${err.message}`);
        this.events.publish('agent.reload', { config_path: configPath, ok: false, error: (err as Error).message });
        throw err;
      }
      for (const s of this.#subsystems) await s.reload(config);
      this.#config = config;
      logger.info({ config: configPath }, 'config reloaded');
      this.events.publish('agent.reload', { config_path: configPath, ok: true, error: null });
      return { config_path: configPath, reloaded: true };
    };
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
    const outcomes = await closeInOrder(this.#subsystems.reverse(), deadline, this.#opts.logger);
    this.#subsystems = [];
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
