import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/schema.js';
import { ProxyctlError } from '../errors.js';
import type { AppTargets } from '../forward/api.js';
import type { StatsScope } from '../stats/registry.js';
import type { DataStoreStats } from './data-proxy/protocol.js';
import { Instance, type ExitInfo } from './instance.js';
import type { InstanceLedger } from './leftovers.js';
import { LineRing, type LogLine } from './log-lines.js';
import { expandPlaceholders, type PlaceholderValues } from './placeholders.js';
import { RPC_METHOD_NOT_FOUND, RpcCallError, type InstanceClient } from './probe.js';
import { ServiceShardStats, type InstanceRequests, type ShardTotals } from './shard-stats.js';

/** How often the controller pulls ExportShardStats from its instances. */
export const STATS_PULL_INTERVAL_MS = 2000;
/** Lines of instance output kept per service for `service logs`. */
export const LOG_RING_LINES = 1000;
/** Deploy results kept per service for `service info`. */
export const DEPLOY_HISTORY = 20;
/** The NoteStore methods counted per instance and per shard. */
const NOTE_METHODS = ['ListNotes', 'ReadNote', 'CreateNote', 'UpdateNote', 'DeleteNote'] as const;

export type DeployState = 'INITIAL' | 'ROLLOUT_LAUNCH_NEW' | 'ROLLOUT_WAIT' | 'READY';

export interface DeployPhase {
  state: DeployState;
  /** ISO 8601. */
  at: string;
}

export interface DeployRecord {
  /** Per service, from 1 (the deploy at agent start). */
  id: number;
  service: string;
  /** The version this deploy launches. */
  version: number;
  /** The version serving when it started, if any. */
  from_version: number | null;
  result: 'running' | 'succeeded' | 'failed';
  /** Every state the deploy passed through, in order. */
  phases: DeployPhase[];
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface InstanceInfo {
  version: number;
  role: 'current' | 'previous' | 'launching';
  state: Instance['state'];
  pid: number | null;
  port: number;
  address: string;
  launched_at: string;
  ready_at: string | null;
  exit: { code: number | null; signal: string | null; at: string; error: string | null } | null;
  /** From the instance's ExportShardStats (null when it offers none or was not polled yet). */
  requests: InstanceRequests | null;
}

export interface ServiceSummary {
  name: string;
  app: string;
  state: DeployState;
  /** ok, degraded (an instance exited on its own) or down (nothing serving). */
  health: 'ok' | 'degraded' | 'down';
  current: InstanceInfo | null;
  previous: InstanceInfo | null;
  launching: InstanceInfo | null;
  /** Note calls per second over all live instances (last second). */
  req_rate: number;
  last_deploy: DeployRecord | null;
}

export interface ServiceInfo extends ServiceSummary {
  degraded_reason: string | null;
  deploys: DeployRecord[];
  shards: Record<string, ShardTotals>;
}

export interface ControllerDeps {
  readonly targets: AppTargets;
  readonly logger: Logger;
  /** services.<name> in the stats tree. */
  readonly stats: StatsScope;
  readonly client: InstanceClient;
  readonly placeholders: PlaceholderValues;
  /** Where instances listen (the app connects there). */
  readonly host?: string;
  /** Records running instances in state.db, so a next agent can stop them after a crash of this one. */
  readonly ledger?: InstanceLedger;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Rolls one service from version to version behind its app:
 * INITIAL → ROLLOUT_LAUNCH_NEW → ROLLOUT_WAIT → READY.
 *
 * One deploy at a time (another fails at once with PXC_ERR_DEPLOY_IN_PROGRESS).
 * The new version (current + 1) must pass its readiness probe; then it joins
 * the app's targets beside the old one, which keeps serving for `drain`
 * seconds, is taken out of the targets, gets SIGTERM (SIGKILL after
 * `stop_timeout`) and is forgotten. A version that never gets ready is stopped
 * and the current one keeps serving; the deploy is recorded as failed.
 */
export class DeploymentController {
  #config: ServiceConfig;
  readonly #deps: ControllerDeps;
  readonly #log: Logger;
  readonly #host: string;
  #state: DeployState = 'INITIAL';
  #current: Instance | null = null;
  #previous: Instance | null = null;
  #launching: Instance | null = null;
  #running: Promise<DeployRecord> | null = null;
  #deploys: DeployRecord[] = [];
  #nextId = 1;
  #degraded: string | null = null;
  readonly #logs = new LineRing<LogLine>(LOG_RING_LINES);
  readonly #shardStats: ServiceShardStats;
  /** Instances that do not answer ExportShardStats (method not found): not asked again. */
  readonly #noStats = new WeakSet<Instance>();
  /** The app each instance was added to (a reload may move the service to another app). */
  readonly #appOf = new WeakMap<Instance, string>();
  readonly #abort = new AbortController();
  /** Every instance launched that has not exited (kill() reaches them all). */
  readonly #live = new Set<Instance>();
  #pullTimer: NodeJS.Timeout | undefined;
  #pulling = false;
  #closing: Promise<void> | undefined;

  constructor(config: ServiceConfig, deps: ControllerDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#host = deps.host ?? '127.0.0.1';
    this.#log = deps.logger.child({ service: config.name });
    this.#shardStats = new ServiceShardStats(deps.stats, NOTE_METHODS);
    deps.stats.text('state', 'deploy state', () => this.#state);
    deps.stats.text('health', 'ok, degraded or down', () => this.#health());
    deps.stats.gauge('current_version', 'version serving (0: none)', () => this.#current?.version ?? 0);
    deps.stats.gauge('req_rate', 'note calls per second over all live instances', () => this.#reqRate());
    this.#pullTimer = setInterval(() => void this.pullStats(), STATS_PULL_INTERVAL_MS);
    this.#pullTimer.unref();
  }

  get name(): string {
    return this.#config.name;
  }

  get config(): ServiceConfig {
    return this.#config;
  }

  get state(): DeployState {
    return this.#state;
  }

  /** Takes a new config (reload); it applies from the next deploy on. */
  updateConfig(config: ServiceConfig): void {
    this.#config = config;
  }

  /**
   * Starts a deploy and returns at once with its record (`settled()` waits for
   * the end). Throws PXC_ERR_DEPLOY_IN_PROGRESS while another runs.
   */
  deploy(): DeployRecord {
    if (this.#closing) throw new ProxyctlError('PXC_ERR_SHUTTING_DOWN', `service ${this.name}: the agent is shutting down`);
    if (this.#running) {
      const running = this.#deploys.find((d) => d.result === 'running');
      throw new ProxyctlError('PXC_ERR_DEPLOY_IN_PROGRESS', `service ${this.name}: deploy already in progress${running ? ` (deploy ${running.id}, version ${running.version}, ${this.#state})` : ''}`);
    }
    if (!this.#deps.targets.hasApp(this.#config.app)) throw new ProxyctlError('PXC_ERR_UNKNOWN_APP', `service ${this.name}: its app "${this.#config.app}" is not running`);
    const record: DeployRecord = {
      id: this.#nextId++,
      service: this.name,
      version: (this.#current?.version ?? 0) + 1,
      from_version: this.#current?.version ?? null,
      result: 'running',
      phases: [],
      started_at: iso(Date.now()),
      finished_at: null,
      error: null,
    };
    this.#deploys.push(record);
    if (this.#deploys.length > DEPLOY_HISTORY) this.#deploys.shift();
    const run = this.#run(record)
      .catch(async (err: unknown) => {
        // A bug or an AppTargets refusal: never leave a launched instance behind.
        const orphan = this.#launching;
        this.#launching = null;
        await orphan?.stop(this.#config.stop_timeout * 1000);
        return this.#fail(record, `internal error: ${(err as Error).message}`);
      })
      .finally(() => {
        this.#running = null;
      });
    this.#running = run;
    return structuredClone(record);
  }

  /** The running deploy's end (its record), or null when none runs. */
  settled(): Promise<DeployRecord> | null {
    return this.#running;
  }

  async #run(record: DeployRecord): Promise<DeployRecord> {
    const cfg = this.#config;
    const stopMs = cfg.stop_timeout * 1000;
    this.#phase(record, 'ROLLOUT_LAUNCH_NEW');
    this.#log.info({ deploy: record.id, version: record.version, from: record.from_version }, `deploy ${record.id}: launching ${this.name}@v${record.version}`);
    let inst: Instance;
    try {
      inst = await this.#launch(cfg, record.version);
    } catch (err) {
      return this.#fail(record, `cannot launch ${this.name}@v${record.version}: ${(err as Error).message}`);
    }
    this.#launching = inst;
    const notReady = await this.#waitReady(inst, cfg);
    if (notReady !== null) {
      this.#launching = null;
      await inst.stop(stopMs);
      return this.#fail(record, `${inst.label} never became ready: ${notReady}; ${this.#current ? `${this.#current.label} keeps serving` : 'nothing is serving'}`);
    }
    inst.markReady();
    this.#deps.targets.addTarget(cfg.app, inst.address);
    this.#appOf.set(inst, cfg.app);
    this.#launching = null;
    const old = this.#current;
    this.#current = inst;
    if (this.#degraded && (!old || old.state === 'exited')) this.#degraded = null;
    this.#log.info({ deploy: record.id, version: inst.version, instance_pid: inst.pid, port: inst.port }, `${inst.label} ready on ${inst.address}, added to app ${cfg.app}`);
    if (old) {
      this.#previous = old;
      this.#phase(record, 'ROLLOUT_WAIT');
      if (old.state !== 'exited') await Promise.race([this.#sleep(cfg.drain * 1000), inst.exited]);
      if (inst.exit && old.state !== 'exited') {
        // The new version died while both served: the old one stays, as if the new had never been ready.
        this.#current = old;
        this.#previous = null;
        this.#degraded = null;
        await this.#retire(inst, stopMs);
        return this.#fail(record, `${inst.label} exited during ROLLOUT_WAIT (${describeExit(inst.exit)}); ${old.label} keeps serving`);
      }
      await this.#retire(old, stopMs);
      this.#previous = null;
      if (this.#degraded && this.#current.state !== 'exited') this.#degraded = null;
    }
    this.#phase(record, 'READY');
    record.result = 'succeeded';
    record.finished_at = iso(Date.now());
    this.#log.info({ deploy: record.id, version: inst.version }, `deploy ${record.id}: ${inst.label} is current`);
    return structuredClone(record);
  }

  #fail(record: DeployRecord, error: string): DeployRecord {
    // Back to where it was: READY with the current version serving, or INITIAL when there is none.
    this.#state = this.#current ? 'READY' : 'INITIAL';
    record.phases.push({ state: this.#state, at: iso(Date.now()) });
    record.result = 'failed';
    record.error = error;
    record.finished_at = iso(Date.now());
    this.#log.error({ deploy: record.id, version: record.version }, `deploy ${record.id} failed: ${error}`);
    return structuredClone(record);
  }

  #phase(record: DeployRecord, state: DeployState): void {
    this.#state = state;
    record.phases.push({ state, at: iso(Date.now()) });
  }

  async #launch(cfg: ServiceConfig, version: number): Promise<Instance> {
    const ph = this.#deps.placeholders;
    const env = Object.fromEntries(Object.entries(cfg.env).map(([k, v]) => [k, expandPlaceholders(v, ph)]));
    const inst = await Instance.launch({
      service: cfg.name,
      version,
      argv: cfg.command.map((a) => expandPlaceholders(a, ph)),
      env,
      cwd: cfg.cwd === null ? null : expandPlaceholders(cfg.cwd, ph),
      host: this.#host,
      onLine: (line) => {
        this.#logs.push(line);
        this.#log.info({ version: line.version, stream: line.stream }, `${cfg.name}@v${line.version} | ${line.line}`);
      },
      onExit: (i, exit) => this.#onExit(i, exit),
    });
    if (!inst.exit) {
      this.#live.add(inst);
      this.#deps.ledger?.record(inst);
    }
    return inst;
  }

  /** null when ready, else why not (the last probe's answer, or the exit). */
  async #waitReady(inst: Instance, cfg: ServiceConfig): Promise<string | null> {
    const intervalMs = cfg.ready_interval * 1000;
    const timeoutMs = Math.max(250, Math.min(intervalMs, 5000));
    let last = 'not probed';
    for (let attempt = 1; attempt <= cfg.ready_attempts; attempt++) {
      if (inst.exit) return `it exited (${describeExit(inst.exit)})`;
      if (this.#abort.signal.aborted) return 'the agent is shutting down';
      const r = await this.#deps.client.probe(cfg.ready, inst.host, inst.port, timeoutMs);
      if (r === true && !inst.exit) return null;
      if (r !== true) last = r;
      this.#log.debug({ version: inst.version, attempt, of: cfg.ready_attempts, reason: last }, `${inst.label} not ready yet`);
      if (attempt < cfg.ready_attempts) await Promise.race([this.#sleep(intervalMs), inst.exited]);
    }
    if (inst.exit) return `it exited (${describeExit(inst.exit)})`;
    return `${cfg.ready_attempts} ${cfg.ready.kind} probe${cfg.ready_attempts === 1 ? '' : 's'} ${intervalMs / 1000} s apart failed, last: ${last}`;
  }

  /** Out of the app's targets, SIGTERM (SIGKILL after stop_timeout), forgotten. */
  async #retire(inst: Instance, stopMs: number): Promise<void> {
    const app = this.#appOf.get(inst);
    if (app !== undefined && this.#deps.targets.hasApp(app)) {
      const conns = this.#deps.targets.connections(app, inst.address);
      this.#deps.targets.removeTarget(app, inst.address, { timeoutMs: stopMs }).catch((err: unknown) => this.#log.warn({ err }, `removing ${inst.address} from app ${app}`));
      if (inst.state !== 'exited') this.#log.info({ version: inst.version, instance_pid: inst.pid, connections: conns }, `${inst.label} out of app ${app}; stopping (SIGTERM, SIGKILL after ${stopMs / 1000} s)`);
    } else if (inst.state !== 'exited') this.#log.info({ version: inst.version, instance_pid: inst.pid }, `${inst.label} stopping (SIGTERM, SIGKILL after ${stopMs / 1000} s)`);
    // Its last counts, or what it served since the previous pull (up to 2 s) would be lost from the shard totals.
    if (inst.state === 'ready') await this.#pullOne(inst);
    const exit = await inst.stop(stopMs);
    if (exit.expected) this.#log.info({ version: inst.version, code: exit.code, signal: exit.signal }, `${inst.label} stopped (${describeExit(exit)})`);
    this.#shardStats.retire(inst.version);
  }

  #onExit(inst: Instance, exit: ExitInfo): void {
    this.#live.delete(inst);
    this.#deps.ledger?.forget(inst.pid);
    if (exit.expected) return;
    const role = inst === this.#current ? 'current' : inst === this.#previous ? 'previous' : inst === this.#launching ? 'launching' : 'retired';
    if (role === 'launching' || role === 'retired') {
      this.#log.warn({ version: inst.version, code: exit.code, signal: exit.signal }, `${inst.label} exited before it was ready (${describeExit(exit)})`);
      return;
    }
    this.#degraded = `${inst.label} (${role}) exited on its own at ${iso(exit.at)} (${describeExit(exit)})`;
    this.#log.error({ version: inst.version, instance_pid: inst.pid, code: exit.code, signal: exit.signal, role }, `service ${this.name} degraded: ${this.#degraded}`);
    const app = this.#appOf.get(inst);
    if (app !== undefined && this.#deps.targets.hasApp(app)) this.#deps.targets.removeTarget(app, inst.address, { timeoutMs: 0 }).catch(() => undefined);
  }

  /** Pulls ExportShardStats from every live instance once (the timer's job; public for tests). */
  async pullStats(): Promise<void> {
    if (this.#pulling || this.#closing) return;
    this.#pulling = true;
    try {
      const live = [this.#current, this.#previous].filter((i): i is Instance => i !== null && i.state === 'ready' && !this.#noStats.has(i));
      await Promise.all(live.map((inst) => this.#pullOne(inst)));
    } finally {
      this.#pulling = false;
    }
  }

  async #pullOne(inst: Instance): Promise<void> {
    if (this.#noStats.has(inst)) return;
    try {
      const stats = (await this.#deps.client.call(inst.host, inst.port, this.#config.ready.path, 'ExportShardStats', {}, 1500)) as DataStoreStats;
      this.#shardStats.ingest(inst.version, stats);
    } catch (err) {
      if (err instanceof RpcCallError && err.rpcCode === RPC_METHOD_NOT_FOUND) this.#noStats.add(inst);
      else this.#log.debug({ version: inst.version, err: (err as Error).message }, `ExportShardStats from ${inst.label} failed`);
    }
  }

  summary(): ServiceSummary {
    const last = this.#deploys.at(-1);
    return {
      name: this.name,
      app: this.#config.app,
      state: this.#state,
      health: this.#health(),
      current: this.#current && this.#instanceInfo(this.#current, 'current'),
      previous: this.#previous && this.#instanceInfo(this.#previous, 'previous'),
      launching: this.#launching && this.#instanceInfo(this.#launching, 'launching'),
      req_rate: this.#reqRate(),
      last_deploy: last ? structuredClone(last) : null,
    };
  }

  info(): ServiceInfo {
    return { ...this.summary(), degraded_reason: this.#degraded, deploys: structuredClone(this.#deploys), shards: this.#shardStats.shards() };
  }

  /** The last `n` lines of instance output, oldest first. */
  logs(n: number): LogLine[] {
    return this.#logs.tail(n);
  }

  /** Stops every instance (SIGTERM, SIGKILL after stop_timeout), a deploy in flight included. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#pullTimer) clearInterval(this.#pullTimer);
      this.#abort.abort();
      await this.#running?.catch(() => undefined);
      const stopMs = this.#config.stop_timeout * 1000;
      await Promise.all(
        [this.#current, this.#previous, this.#launching]
          .filter((i): i is Instance => i !== null)
          .map((i) => this.#retire(i, stopMs)),
      );
      this.#current = this.#previous = this.#launching = null;
      this.#shardStats.close();
      this.#deps.stats.remove();
    })();
    return this.#closing;
  }

  /** SIGKILL to every instance's process group now (the agent's stop deadline passed during close()). */
  kill(): void {
    for (const inst of this.#live) inst.kill();
  }

  #health(): ServiceSummary['health'] {
    if (!this.#current || this.#current.state === 'exited') return 'down';
    return this.#degraded ? 'degraded' : 'ok';
  }

  #reqRate(): number {
    let rate = 0;
    for (const i of [this.#current, this.#previous]) if (i) rate += this.#shardStats.instance(i.version)?.rate_1s ?? 0;
    return rate;
  }

  #instanceInfo(inst: Instance, role: InstanceInfo['role']): InstanceInfo {
    const exit = inst.exit;
    return {
      version: inst.version,
      role,
      state: inst.state,
      pid: inst.pid,
      port: inst.port,
      address: inst.address,
      launched_at: iso(inst.launchedAt),
      ready_at: inst.readyAt === null ? null : iso(inst.readyAt),
      exit: exit && { code: exit.code, signal: exit.signal, at: iso(exit.at), error: exit.error },
      requests: this.#shardStats.instance(inst.version),
    };
  }

  /** Resolves after `ms`, or at once when the controller closes. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

export function describeExit(exit: ExitInfo): string {
  if (exit.error) return exit.error;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}
