import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/schema.js';
import { NO_EVENTS, type EventPublisher, type InstanceExitAction } from '../control/events.js';
import { ProxyctlError } from '../errors.js';
import type { AppTargets } from '../forward/api.js';
import type { Counter, StatsScope } from '../stats/registry.js';
import type { ServiceHistory } from './history.js';
import { Instance, type ExitInfo } from './instance.js';
import type { InstanceLedger } from './leftovers.js';
import { LineRing, type LogLine } from './log-lines.js';
import { expandPlaceholders, type PlaceholderValues } from './placeholders.js';
import type { InstanceClient } from './probe.js';
import type { DeployPhase, DeployRecord, DeployState, OperationKind } from './records.js';
import { sameSpec, specOf, type Release } from './release.js';
import { decideRestart, type ExitLike } from './restart-policy.js';
import type { InstanceRequests, ShardTotals } from './shard-stats.js';
import { StatsPuller } from './stats-puller.js';

export type { DeployPhase, DeployRecord, DeployState, OperationKind } from './records.js';
export type { Release } from './release.js';
export { STATS_PULL_INTERVAL_MS } from './stats-puller.js';

/** Lines of instance output kept per service for `service logs`. */
export const LOG_RING_LINES = 1000;
/** Operations kept in memory per service for `service info` (service history reads state.db). */
export const DEPLOY_HISTORY = 20;

export interface InstanceInfo {
  /** Which of the service's instances (0 … instances-1). */
  instance: number;
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
  /** Times this instance's slot was restarted after a crash (current instances). */
  restarts: number;
  /** ISO 8601: when the crashed instance is restarted next, if it is. */
  next_restart_at: string | null;
  /** max_restarts reached: left down until service start, restart or a deploy. */
  gave_up: boolean;
}

export interface ServiceSummary {
  name: string;
  app: string;
  state: DeployState;
  /** ok (every instance serving), degraded (some), down (none, or stopped). */
  health: 'ok' | 'degraded' | 'down';
  /** The current release's version (null: never deployed). */
  version: number | null;
  /** Instances wanted (services[].instances, or service scale). */
  scale: number;
  /** Instances of the current version serving now. */
  ready: number;
  /** Crashed instances restarted since the agent started. */
  restarts: number;
  /** The first current instance (instances lists them all). */
  current: InstanceInfo | null;
  previous: InstanceInfo | null;
  launching: InstanceInfo | null;
  instances: InstanceInfo[];
  /** Note calls per second over all live instances (last second). */
  req_rate: number;
  last_deploy: DeployRecord | null;
}

export interface ServiceInfo extends ServiceSummary {
  degraded_reason: string | null;
  restart: { policy: ServiceConfig['restart']; max_restarts: number; restart_delay: number };
  /** The config's command/env/cwd differ from the current release's: a deploy applies them. */
  config_changed: boolean;
  /** The version `deploy --rollback` goes back to. */
  previous_version: number | null;
  deploys: DeployRecord[];
  shards: Record<string, ShardTotals>;
}

export interface ServiceHistoryView {
  service: string;
  version: number | null;
  previous_version: number | null;
  releases: Release[];
  deploys: DeployRecord[];
}

export interface ServiceLogLine extends LogLine {
  /** Per service, from 1: `service logs --follow` continues after the last one it printed. */
  readonly seq: number;
}

export interface ControllerDeps {
  readonly targets: AppTargets;
  readonly logger: Logger;
  /** services.<name> in the stats tree. */
  readonly stats: StatsScope;
  readonly client: InstanceClient;
  readonly placeholders: PlaceholderValues;
  /** Releases, operations and run state in state.db. */
  readonly history: ServiceHistory;
  readonly events?: EventPublisher;
  /** Where instances listen (the app connects there). */
  readonly host?: string;
  /** Records running instances in state.db, so a next agent can stop them after a crash of this one. */
  readonly ledger?: InstanceLedger;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** An operation that could not do what it was asked: the record says why (not an agent error). */
class OperationFailed extends ProxyctlError {
  constructor(message: string) {
    super('PXC_ERR_DEPLOY_FAILED', message);
    this.name = 'OperationFailed';
  }
}

interface StartFailure {
  /** Why: `cannot launch: …`, or the readiness probe's last answer. */
  failed: string;
  label: string;
  /** The whole sentence: `notes@v3 never became ready: …`. */
  message: string;
}

/** One of the service's instances (a slot 0 … scale-1) and its restarts. */
class Member {
  instance: Instance | null;
  restarts = 0;
  /** Restarts in a row (backoff, max_restarts). */
  streak = 0;
  /** A decided restart, waiting for its time (or for an operation to end). */
  pendingAt: number | null = null;
  timer: NodeJS.Timeout | null = null;
  restarting: { abort: AbortController; done: Promise<void> } | null = null;
  gaveUp = false;
  /** A failure not decided on yet (a scale-up instance that never got ready). */
  undecided: ExitLike | null = null;
  /** Why it does not serve, for degraded_reason. */
  down: string | null = null;

  constructor(
    readonly slot: number,
    readonly release: Release,
    instance: Instance | null,
  ) {
    this.instance = instance;
  }

  get serving(): boolean {
    return this.instance !== null && this.instance.state === 'ready';
  }

  get live(): boolean {
    return this.instance !== null && this.instance.state !== 'exited';
  }
}

/**
 * Runs one service behind its app: its instances, rolling operations on them
 * and the restarts of crashed ones.
 *
 * Operations, one at a time (another fails at once with
 * PXC_ERR_DEPLOY_IN_PROGRESS), each returning its record at once (`settled()`
 * waits for the end) and publishing `deploy.phase` events:
 * - deploy (a new version from the config), rollback (a new version with an
 *   earlier one's command/env) and restart (the same version again) roll the
 *   instances in batches of max_surge (instances with nothing serving in
 *   their place start together, first): ROLLOUT_LAUNCH_NEW (the batch must pass
 *   its readiness probe, then joins the app's targets), ROLLOUT_WAIT (the old
 *   ones it replaces keep serving for `drain` seconds), then the old ones are
 *   taken out and stopped (SIGTERM, SIGKILL after stop_timeout). A batch
 *   that never gets ready, or dies during ROLLOUT_WAIT, is stopped, the old
 *   ones keep serving, and instances of earlier batches go back to the old
 *   version; the operation is recorded as failed.
 * - start launches what is missing (agent start, after service stop or
 *   max_restarts), scale adds or retires instances, stop retires them all.
 *
 * A crashed instance of the current version (not one being retired or still
 * launching) is taken out of the targets and restarted with exponential
 * backoff per the restart policy; it rejoins the targets once ready. Restarts
 * wait while an operation runs.
 */
export class DeploymentController {
  #config: ServiceConfig;
  readonly #deps: ControllerDeps;
  readonly #log: Logger;
  readonly #host: string;
  readonly #history: ServiceHistory;
  readonly #events: EventPublisher;
  #state: DeployState = 'INITIAL';
  #release: Release | null;
  #previousVersion: number | null;
  #maxVersion: number;
  #scale: number;
  #stopped: boolean;
  #members: Member[] = [];
  /** Old instances still serving beside their replacements (ROLLOUT_WAIT). */
  readonly #previous = new Set<Instance>();
  /** Launched, not ready yet (operations and restarts). */
  readonly #launching = new Set<Instance>();
  #op: Promise<DeployRecord> | null = null;
  #opRecord: DeployRecord | null = null;
  #deploys: DeployRecord[];
  #nextId: number;
  #pendingScale: number | null = null;
  #lastHealth: ServiceSummary['health'] | null = null;
  readonly #restarts: Counter;
  readonly #logs = new LineRing<ServiceLogLine>(LOG_RING_LINES);
  #logSeq = 0;
  readonly #puller: StatsPuller;
  /** The app each instance was added to (a reload may move the service to another app). */
  readonly #appOf = new WeakMap<Instance, string>();
  readonly #abort = new AbortController();
  /** Every instance launched that has not exited (kill() reaches them all). */
  readonly #live = new Set<Instance>();
  #closing: Promise<void> | undefined;

  constructor(config: ServiceConfig, deps: ControllerDeps) {
    this.#config = config;
    this.#deps = deps;
    this.#host = deps.host ?? '127.0.0.1';
    this.#log = deps.logger.child({ service: config.name });
    this.#history = deps.history;
    this.#events = deps.events ?? NO_EVENTS;
    const saved = this.#history.state(config.name);
    this.#release = saved.version === null ? null : this.#history.release(config.name, saved.version);
    this.#previousVersion = saved.previous_version;
    this.#maxVersion = Math.max(this.#history.lastVersion(config.name), this.#release?.version ?? 0);
    // A scale set at run time holds until the config's instances changes.
    this.#scale = saved.scale !== null && saved.config_instances === config.instances ? saved.scale : config.instances;
    this.#stopped = saved.stopped && this.#release !== null;
    if (this.#stopped) this.#state = 'STOPPED';
    this.#deploys = this.#history.deploys(config.name, DEPLOY_HISTORY).map((d) => this.#interrupted(d));
    this.#nextId = this.#history.lastDeployId(config.name) + 1;
    const s = deps.stats;
    s.text('state', 'deploy state', () => this.#state);
    s.text('health', 'ok, degraded or down', () => this.#health());
    s.gauge('current_version', 'version serving (0: none)', () => this.#release?.version ?? 0);
    s.gauge('instances_wanted', 'instances wanted (instances, service scale)', () => this.#scale);
    s.gauge('instances_ready', 'instances of the current version serving', () => this.#members.filter((m) => m.serving).length);
    s.gauge('req_rate', 'note calls per second over all live instances', () => this.#reqRate());
    this.#restarts = s.counter('restarts', 'crashed instances restarted');
    this.#puller = new StatsPuller({ client: deps.client, log: this.#log, stats: s, live: () => this.#serving(), path: () => this.#config.ready.path });
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

  /**
   * Takes a new config (reload): command, env and cwd apply from the next
   * deploy; a changed `instances` scales the service (after the running
   * operation, if one runs); the restart policy applies at once.
   */
  updateConfig(config: ServiceConfig): void {
    const old = this.#config;
    this.#config = config;
    if (config.instances === old.instances) return;
    if (config.instances === this.#scale) this.#saveState();
    else if (this.#op) this.#pendingScale = config.instances;
    else this.#scaleFromConfig(config.instances);
  }

  // ── operations ────────────────────────────────────────────────────────

  /** A new version from the config, rolled over every instance. */
  deploy(): DeployRecord {
    this.#refuse();
    return this.#begin('deploy', this.#maxVersion + 1, this.#scale, async (record) => {
      this.#setStopped(false);
      await this.#roll(record, this.#newRelease(record.version, 'config', null), this.#allSlots());
    });
  }

  /** A new version with the command/env/cwd of `toVersion` (default: the version before the current one). */
  rollback(toVersion?: number): DeployRecord {
    this.#refuse();
    const target = toVersion ?? this.#previousVersion;
    if (target === null || target === undefined) throw new ProxyctlError('PXC_ERR_NO_RELEASE', `service ${this.name}: no earlier version to roll back to${this.#release ? ` (v${this.#release.version} is the only one)` : ' (never deployed)'}`);
    if (target === this.#release?.version) throw new ProxyctlError('PXC_ERR_NO_RELEASE', `service ${this.name}: v${target} is the current version`);
    const source = this.#history.release(this.name, target);
    if (!source) throw new ProxyctlError('PXC_ERR_NO_RELEASE', `service ${this.name}: no release v${target} in its history (see proxyctl service history ${this.name})`);
    return this.#begin('rollback', this.#maxVersion + 1, this.#scale, async (record) => {
      this.#setStopped(false);
      await this.#roll(record, this.#newRelease(record.version, 'rollback', source), this.#allSlots());
    });
  }

  /** The current version again, rolled over every instance (zero downtime); revives crashed and given-up instances. */
  restart(): DeployRecord {
    this.#refuse();
    const release = this.#release;
    if (!release) throw new ProxyctlError('PXC_ERR_NO_RELEASE', `service ${this.name}: never deployed, nothing to restart (proxyctl deploy ${this.name})`);
    return this.#begin('restart', release.version, this.#scale, async (record) => {
      this.#setStopped(false);
      await this.#roll(record, release, this.#allSlots());
    });
  }

  /**
   * Launches what is missing: every instance of a stopped service, crashed
   * and given-up ones; the config as a first version when there is none (at
   * agent start, the version that served before comes back).
   */
  start(): DeployRecord {
    this.#refuse();
    const release = this.#release;
    return this.#begin('start', release?.version ?? this.#maxVersion + 1, this.#scale, async (record) => {
      this.#setStopped(false);
      if (release && !sameSpec(release, specOf(this.#config))) this.#log.info({ version: release.version }, `service ${this.name}: the config's command/env/cwd differ from v${release.version}; they apply at the next deploy`);
      const target = release ?? this.#newRelease(record.version, 'config', null);
      const missing = this.#allSlots().filter((slot) => !this.#members[slot]?.live);
      if (missing.length === 0) return;
      await this.#roll(record, target, missing);
    });
  }

  /** `n` instances of the current version: launches or retires the difference. */
  scale(n: number): DeployRecord {
    this.#refuse();
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `service scale: instances must be an integer from 1 to 64 (got ${n})`);
    return this.#begin('scale', this.#release?.version ?? 0, n, (record) => this.#rescale(record, n));
  }

  /** Retires every instance; crashed ones are not restarted until service start, restart or a deploy. */
  stop(): DeployRecord {
    this.#refuse();
    return this.#begin('stop', this.#release?.version ?? 0, 0, async (record) => {
      this.#phase(record, 'STOPPING');
      this.#setStopped(true);
      const live = this.#members.map((m) => m.instance).filter((i): i is Instance => i !== null && i.state !== 'exited');
      this.#members = this.#members.map((m) => new Member(m.slot, m.release, null));
      await Promise.all([...live, ...this.#previous].map((i) => this.#retire(i)));
    });
  }

  /** The running operation's end (its record), or null when none runs. */
  settled(): Promise<DeployRecord> | null {
    return this.#op;
  }

  #refuse(): void {
    if (this.#closing) throw new ProxyctlError('PXC_ERR_SHUTTING_DOWN', `service ${this.name}: the agent is shutting down`);
    if (this.#op) {
      const r = this.#opRecord;
      const what = !r || r.kind === 'deploy' ? 'deploy already' : `${r.kind} ${r.id}`;
      throw new ProxyctlError('PXC_ERR_DEPLOY_IN_PROGRESS', `service ${this.name}: ${what} in progress${r ? ` (${r.kind} ${r.id}, version ${r.version}, ${this.#state}); one operation at a time` : ''}`);
    }
    if (!this.#deps.targets.hasApp(this.#config.app)) throw new ProxyctlError('PXC_ERR_UNKNOWN_APP', `service ${this.name}: its app "${this.#config.app}" is not running`);
  }

  #begin(kind: OperationKind, version: number, instances: number, run: (record: DeployRecord) => Promise<void>): DeployRecord {
    const record: DeployRecord = {
      id: this.#nextId++,
      service: this.name,
      kind,
      version,
      from_version: this.#release?.version ?? null,
      instances,
      result: 'running',
      phases: [],
      started_at: iso(Date.now()),
      finished_at: null,
      error: null,
    };
    this.#deploys.push(record);
    if (this.#deploys.length > DEPLOY_HISTORY) this.#deploys.shift();
    this.#history.saveDeploy(record);
    this.#opRecord = record;
    this.#log.info({ deploy: record.id, kind, version, from: record.from_version }, `${kind} ${record.id} of ${this.name}${kind === 'scale' ? ` to ${instances} instance(s)` : `: v${record.from_version ?? '-'} -> v${version}`}`);
    const op = (async () => {
      await this.#quiesce();
      try {
        await run(record);
        this.#end(record, this.#restingState(), 'succeeded');
        this.#log.info({ deploy: record.id, version: record.version }, `${kind} ${record.id} of ${this.name} succeeded`);
      } catch (err) {
        // Never leave a launched instance behind: whatever is not an instance of the service now is stopped.
        const kept = new Set<Instance>([...this.#previous, ...this.#members.map((m) => m.instance).filter((i): i is Instance => i !== null)]);
        await Promise.all([...this.#live].filter((i) => !kept.has(i)).map((i) => i.stop(this.#config.stop_timeout * 1000)));
        const message = err instanceof OperationFailed ? err.message : `internal error: ${(err as Error).message}`;
        if (!(err instanceof OperationFailed)) this.#log.error({ err }, `${kind} ${record.id} of ${this.name}: internal error`);
        this.#end(record, this.#restingState(), 'failed', message);
        this.#log.error({ deploy: record.id, version: record.version }, `${kind} ${record.id} of ${this.name} failed: ${message}`);
      } finally {
        this.#op = null;
        this.#opRecord = null;
        this.#afterOp();
      }
      return structuredClone(record);
    })();
    this.#op = op;
    return structuredClone(record);
  }

  #phase(record: DeployRecord, state: DeployState, batch?: string): void {
    this.#state = state;
    const phase: DeployPhase = { state, at: iso(Date.now()) };
    if (batch !== undefined) phase.batch = batch;
    record.phases.push(phase);
    this.#history.saveDeploy(record);
    this.#publishPhase(record);
  }

  #end(record: DeployRecord, state: DeployState, result: 'succeeded' | 'failed', error: string | null = null): void {
    this.#state = state;
    record.phases.push({ state, at: iso(Date.now()) });
    record.result = result;
    record.error = error;
    record.finished_at = iso(Date.now());
    this.#history.saveDeploy(record);
    this.#publishPhase(record);
  }

  #publishPhase(record: DeployRecord): void {
    this.#events.publish('deploy.phase', {
      service: record.service,
      deploy: record.id,
      kind: record.kind,
      version: record.version,
      from_version: record.from_version,
      state: record.phases.at(-1)!.state,
      batch: record.phases.at(-1)!.batch ?? null,
      result: record.result,
      error: record.error,
    });
  }

  /** READY with instances, STOPPED, or INITIAL (nothing deployed). */
  #restingState(): DeployState {
    if (this.#stopped) return 'STOPPED';
    return this.#release ? 'READY' : 'INITIAL';
  }

  /** A record of an operation the previous agent did not finish. */
  #interrupted(d: DeployRecord): DeployRecord {
    if (d.result !== 'running') return d;
    const fixed: DeployRecord = { ...d, result: 'failed', error: 'the agent stopped during it', finished_at: d.phases.at(-1)?.at ?? d.started_at };
    this.#history.saveDeploy(fixed);
    return fixed;
  }

  #allSlots(): number[] {
    return Array.from({ length: this.#scale }, (_, i) => i);
  }

  #newRelease(version: number, source: Release['source'], from: Release | null): Release {
    const spec = from ?? specOf(this.#config);
    const release: Release = { version, command: [...spec.command], env: { ...spec.env }, cwd: spec.cwd, created_at: iso(Date.now()), source, rollback_of: from?.version ?? null };
    this.#maxVersion = Math.max(this.#maxVersion, version);
    this.#history.addRelease(this.name, release, [this.#release?.version ?? null, this.#previousVersion]);
    return release;
  }

  /** The release serving now; the one before becomes the rollback target. */
  #switchRelease(release: Release): void {
    if (this.#release?.version === release.version) return;
    if (this.#release) this.#previousVersion = this.#release.version;
    this.#release = release;
    this.#saveState();
  }

  #setStopped(stopped: boolean): void {
    this.#stopped = stopped;
    this.#saveState();
  }

  #saveState(): void {
    this.#history.saveState(this.name, {
      version: this.#release?.version ?? null,
      previous_version: this.#previousVersion,
      scale: this.#scale,
      config_instances: this.#config.instances,
      stopped: this.#stopped,
    });
  }

  /**
   * Replaces the instances of `slots` with instances of `release`, in
   * batches of max_surge. A failure puts the old instances back and throws
   * OperationFailed.
   */
  async #roll(record: DeployRecord, release: Release, slots: number[], revert = true): Promise<void> {
    const cfg = this.#config;
    const from = this.#release;
    const fromPrevious = this.#previousVersion;
    const size = cfg.max_surge;
    // Slots with nothing serving start together (a first deploy, a start); the others are replaced max_surge at a time.
    const empty = slots.filter((slot) => !this.#members[slot]?.live);
    const serving = slots.filter((slot) => this.#members[slot]?.live);
    const batches: number[][] = empty.length > 0 ? [empty] : [];
    for (let i = 0; i < serving.length; i += size) batches.push(serving.slice(i, i + size));
    const done: number[] = [];
    const fail = async (message: string): Promise<never> => {
      if (revert && from && from.version !== release.version) {
        if (done.length > 0) {
          this.#log.warn({ deploy: record.id, slots: done }, `${record.kind} ${record.id}: putting ${done.length} instance(s) back to v${from.version}`);
          await this.#roll(record, from, done, false).catch((err: unknown) => this.#log.error({ err: (err as Error).message }, `${record.kind} ${record.id}: could not put every instance back to v${from.version}`));
        }
        this.#release = from;
        this.#previousVersion = fromPrevious;
        this.#saveState();
      }
      throw new OperationFailed(message);
    };
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const tag = batches.length > 1 ? `${b + 1}/${batches.length}` : undefined;
      this.#phase(record, 'ROLLOUT_LAUNCH_NEW', tag);
      const started = await Promise.all(batch.map((slot) => this.#startOne(release, slot, this.#abort.signal)));
      const failed = started.find((r): r is StartFailure => !(r instanceof Instance));
      if (failed) {
        await Promise.all(started.filter((r): r is Instance => r instanceof Instance).map((i) => i.stop(cfg.stop_timeout * 1000)));
        await fail(`${failed.message}; ${this.#servingText()}`);
      }
      const fresh = started as Instance[];
      const replaced = fresh.map((inst) => this.#members[inst.slot] ?? null);
      const olds: Instance[] = [];
      for (const inst of fresh) {
        const old = this.#members[inst.slot];
        if (old?.live) {
          olds.push(old.instance!);
          this.#previous.add(old.instance!);
        }
        this.#cancelRestart(old);
        this.#serve(inst);
        this.#members[inst.slot] = new Member(inst.slot, release, inst);
        this.#log.info({ deploy: record.id, version: inst.version, instance_pid: inst.pid, port: inst.port }, `${inst.label} ready on ${inst.address}, added to app ${cfg.app}`);
      }
      this.#switchRelease(release);
      if (olds.length > 0) {
        this.#phase(record, 'ROLLOUT_WAIT', tag);
        await this.#wait(cfg.drain * 1000, ...fresh.map((i) => i.exited));
        const died = fresh.find((i) => i.exit);
        if (died && olds.some((o) => o.state !== 'exited')) {
          // The new version died while both served: the old instances stay, as if the new had never been ready.
          for (const [i, inst] of fresh.entries()) {
            const back = replaced[i];
            if (back) this.#members[inst.slot] = back;
          }
          for (const o of olds) this.#previous.delete(o);
          await Promise.all(fresh.map((i) => this.#retire(i)));
          await fail(`${died.label} exited during ROLLOUT_WAIT (${describeExit(died.exit!)}); ${this.#servingText()}`);
        }
      }
      await Promise.all(
        olds.map(async (o) => {
          await this.#retire(o);
          this.#previous.delete(o);
        }),
      );
      done.push(...batch);
    }
  }

  async #rescale(record: DeployRecord, n: number): Promise<void> {
    const from = this.#scale;
    this.#scale = n;
    this.#saveState();
    if (from !== n) this.#events.publish('service.scale', { service: this.name, from, to: n });
    const release = this.#release;
    if (!release || this.#stopped) return; // applies at the next start or deploy
    this.#phase(record, 'SCALING');
    if (n < this.#members.length) {
      const gone = this.#members.splice(n);
      for (const m of gone) this.#cancelRestart(m);
      await Promise.all(gone.filter((m) => m.live).map((m) => this.#retire(m.instance!)));
      return;
    }
    const slots = Array.from({ length: n - this.#members.length }, (_, i) => this.#members.length + i);
    const started = await Promise.all(slots.map((slot) => this.#startOne(release, slot, this.#abort.signal)));
    const failures: string[] = [];
    for (const [i, r] of started.entries()) {
      const slot = slots[i]!;
      if (r instanceof Instance) {
        this.#serve(r);
        this.#members[slot] = new Member(slot, release, r);
        this.#log.info({ deploy: record.id, version: r.version, instance_pid: r.pid, port: r.port }, `${r.label} ready on ${r.address}, added to app ${this.#config.app}`);
      } else {
        const m = new Member(slot, release, null);
        m.undecided = { code: null, signal: null, error: `never became ready: ${r.failed}` };
        this.#members[slot] = m;
        failures.push(r.message);
      }
    }
    if (failures.length > 0) throw new OperationFailed(`${started.length - failures.length} of ${started.length} new instance(s) ready; ${failures.join('; ')}`);
  }

  #scaleFromConfig(n: number): void {
    try {
      this.scale(n);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, `service ${this.name}: instances ${n} from the config not applied yet`);
      this.#scale = n;
      this.#saveState();
    }
  }

  /** Stops crash restarts from starting (an operation takes over); decided ones wait for its end. */
  async #quiesce(): Promise<void> {
    const inFlight: Promise<void>[] = [];
    for (const m of this.#members) {
      if (m.timer) clearTimeout(m.timer);
      m.timer = null;
      if (m.restarting) {
        m.restarting.abort.abort();
        inFlight.push(m.restarting.done);
      }
    }
    await Promise.all(inFlight);
  }

  #afterOp(): void {
    if (this.#closing) return;
    const next = this.#pendingScale;
    this.#pendingScale = null;
    if (next !== null && next !== this.#scale) {
      this.#scaleFromConfig(next);
      return;
    }
    if (!this.#stopped) {
      for (const m of this.#members) {
        if (m.undecided) {
          const exit = m.undecided;
          m.undecided = null;
          this.#decide(m, exit, null, `${this.name}@v${m.release.version}${m.slot ? `#${m.slot}` : ''} ${exit.error}`);
        } else if (m.pendingAt !== null) this.#arm(m);
      }
    }
    this.#healthChanged();
  }

  // ── instances ─────────────────────────────────────────────────────────

  async #launch(release: Release, slot: number): Promise<Instance> {
    const ph = this.#deps.placeholders;
    const cfg = this.#config;
    const env = Object.fromEntries(Object.entries(release.env).map(([k, v]) => [k, expandPlaceholders(v, ph)]));
    const inst = await Instance.launch({
      service: cfg.name,
      version: release.version,
      slot,
      argv: release.command.map((a) => expandPlaceholders(a, ph)),
      env,
      cwd: release.cwd === null ? null : expandPlaceholders(release.cwd, ph),
      host: this.#host,
      onLine: (line) => this.#onLine(line),
      onExit: (i, exit) => this.#onExit(i, exit),
    });
    if (!inst.exit) {
      this.#live.add(inst);
      this.#deps.ledger?.record(inst);
    }
    return inst;
  }

  /** Launches an instance and waits for its readiness probe; a failure stops it and says why. */
  async #startOne(release: Release, slot: number, signal: AbortSignal): Promise<Instance | StartFailure> {
    const label = `${this.name}@v${release.version}${slot ? `#${slot}` : ''}`;
    let inst: Instance;
    try {
      inst = await this.#launch(release, slot);
    } catch (err) {
      return { failed: `cannot launch: ${(err as Error).message}`, label, message: `cannot launch ${label}: ${(err as Error).message}` };
    }
    this.#launching.add(inst);
    try {
      const notReady = await this.#waitReady(inst, signal);
      if (notReady !== null) {
        await inst.stop(this.#config.stop_timeout * 1000);
        return { failed: notReady, label, message: `${label} never became ready: ${notReady}` };
      }
      inst.markReady();
      return inst;
    } finally {
      this.#launching.delete(inst);
    }
  }

  /** null when ready, else why not (the last probe's answer, or the exit). */
  async #waitReady(inst: Instance, signal: AbortSignal): Promise<string | null> {
    const cfg = this.#config;
    const intervalMs = cfg.ready_interval * 1000;
    const timeoutMs = Math.max(250, Math.min(intervalMs, 5000));
    let last = 'not probed';
    for (let attempt = 1; attempt <= cfg.ready_attempts; attempt++) {
      if (inst.exit) return `it exited (${describeExit(inst.exit)})`;
      if (signal.aborted) return this.#abort.signal.aborted ? 'the agent is shutting down' : 'an operation took over';
      const r = await this.#deps.client.probe(cfg.ready, inst.host, inst.port, timeoutMs, signal);
      if (r === true && !inst.exit) return null;
      if (r !== true) last = r;
      this.#log.debug({ version: inst.version, attempt, of: cfg.ready_attempts, reason: last }, `${inst.label} not ready yet`);
      if (attempt < cfg.ready_attempts) await this.#wait(intervalMs, inst.exited, signal);
    }
    if (inst.exit) return `it exited (${describeExit(inst.exit)})`;
    return `${cfg.ready_attempts} ${cfg.ready.kind} probe${cfg.ready_attempts === 1 ? '' : 's'} ${intervalMs / 1000} s apart failed, last: ${last}`;
  }

  /** Into the app's targets. */
  #serve(inst: Instance): void {
    this.#deps.targets.addTarget(this.#config.app, inst.address);
    this.#appOf.set(inst, this.#config.app);
  }

  /** Out of the app's targets, SIGTERM (SIGKILL after stop_timeout), forgotten. */
  async #retire(inst: Instance): Promise<void> {
    const stopMs = this.#config.stop_timeout * 1000;
    const app = this.#appOf.get(inst);
    if (app !== undefined && this.#deps.targets.hasApp(app)) {
      const conns = this.#deps.targets.connections(app, inst.address);
      this.#deps.targets.removeTarget(app, inst.address, { timeoutMs: stopMs }).catch((err: unknown) => this.#log.warn({ err }, `removing ${inst.address} from app ${app}`));
      if (inst.state !== 'exited') this.#log.info({ version: inst.version, instance_pid: inst.pid, connections: conns }, `${inst.label} out of app ${app}; stopping (SIGTERM, SIGKILL after ${stopMs / 1000} s)`);
    } else if (inst.state !== 'exited') this.#log.info({ version: inst.version, instance_pid: inst.pid }, `${inst.label} stopping (SIGTERM, SIGKILL after ${stopMs / 1000} s)`);
    // Its last counts, or what it served since the previous pull (up to 2 s) would be lost from the shard totals.
    await this.#puller.retire(inst);
    const exit = await inst.stop(stopMs);
    if (exit.expected) this.#log.info({ version: inst.version, code: exit.code, signal: exit.signal }, `${inst.label} stopped (${describeExit(exit)})`);
  }

  #onLine(line: LogLine): void {
    const seq = ++this.#logSeq;
    this.#logs.push({ ...line, seq });
    const label = `${this.name}@v${line.version}${line.instance ? `#${line.instance}` : ''}`;
    this.#log.info({ version: line.version, instance: line.instance, stream: line.stream }, `${label} | ${line.line}`);
    if (this.#events.wants('service.log')) this.#events.publish('service.log', { service: this.name, version: line.version, instance: line.instance, stream: line.stream, line: line.line, log_seq: seq });
  }

  #onExit(inst: Instance, exit: ExitInfo): void {
    this.#live.delete(inst);
    this.#deps.ledger?.forget(inst.pid);
    if (exit.expected) return;
    const member = this.#members[inst.slot];
    const role = member?.instance === inst ? 'current' : this.#previous.has(inst) ? 'previous' : this.#launching.has(inst) ? 'launching' : 'retired';
    if (role === 'launching' || role === 'retired') {
      this.#log.warn({ version: inst.version, code: exit.code, signal: exit.signal }, `${inst.label} exited before it was ready (${describeExit(exit)})`);
      return;
    }
    const app = this.#appOf.get(inst);
    if (app !== undefined && this.#deps.targets.hasApp(app)) this.#deps.targets.removeTarget(app, inst.address, { timeoutMs: 0 }).catch(() => undefined);
    const what = `${inst.label} (${role}) exited on its own at ${iso(exit.at)} (${describeExit(exit)})`;
    if (role === 'previous') {
      // It was about to be retired: its replacement serves; nothing to restart.
      this.#log.warn({ version: inst.version, instance_pid: inst.pid, code: exit.code, signal: exit.signal }, what);
      this.#publishExit(inst, exit, 'none', 0, null);
      return;
    }
    this.#decide(member!, exit, inst.readyAt === null ? null : exit.at - inst.readyAt, what);
  }

  /** A current instance failed (an exit, or never ready): restart it later, or leave it down. */
  #decide(member: Member, exit: ExitLike, readyMs: number | null, what: string): void {
    const cfg = this.#config;
    const d = decideRestart(cfg, exit, member.streak, readyMs);
    member.streak = d.streak;
    let action: InstanceExitAction;
    if (d.restart) {
      action = 'restart';
      member.pendingAt = Date.now() + d.delayMs;
      member.down = `${what}; restart ${d.streak} of at most ${cfg.max_restarts} in a row, after ${d.delayMs / 1000} s`;
      if (!this.#op && !this.#stopped) this.#arm(member);
    } else if (d.why === 'gave_up') {
      action = 'gave_up';
      member.gaveUp = true;
      member.pendingAt = null;
      member.down = `${what}; left down after ${cfg.max_restarts} restart${cfg.max_restarts === 1 ? '' : 's'} in a row (max_restarts)`;
    } else {
      action = 'none';
      member.pendingAt = null;
      member.down = `${what}; restart: ${cfg.restart} leaves it down`;
    }
    this.#log.error({ version: member.release.version, instance: member.slot, code: exit.code, signal: exit.signal, action, restarts: member.restarts }, `service ${this.name} degraded: ${member.down}`);
    const inst = member.instance;
    this.#events.publish('service.exit', {
      service: this.name,
      version: member.release.version,
      instance: member.slot,
      pid: inst?.pid ?? null,
      code: exit.code,
      signal: exit.signal,
      error: exit.error,
      action,
      restarts: member.restarts,
      delay_ms: d.restart ? d.delayMs : null,
    });
    this.#healthChanged();
  }

  #publishExit(inst: Instance, exit: ExitInfo, action: InstanceExitAction, restarts: number, delayMs: number | null): void {
    this.#events.publish('service.exit', { service: this.name, version: inst.version, instance: inst.slot, pid: inst.pid, code: exit.code, signal: exit.signal, error: exit.error, action, restarts, delay_ms: delayMs });
  }

  #arm(member: Member): void {
    if (member.timer || member.restarting || member.pendingAt === null) return;
    member.timer = setTimeout(() => {
      member.timer = null;
      const abort = new AbortController();
      const entry = { abort, done: Promise.resolve() };
      member.restarting = entry;
      entry.done = this.#restartMember(member, abort.signal);
    }, Math.max(0, member.pendingAt - Date.now()));
  }

  #cancelRestart(member: Member | undefined): void {
    if (!member) return;
    if (member.timer) clearTimeout(member.timer);
    member.timer = null;
    member.pendingAt = null;
    member.restarting?.abort.abort();
  }

  async #restartMember(member: Member, own: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([this.#abort.signal, own]);
    try {
      if (this.#members[member.slot] !== member || this.#stopped || signal.aborted) return;
      const r = await this.#startOne(member.release, member.slot, signal);
      if (this.#members[member.slot] !== member || signal.aborted || this.#stopped) {
        if (r instanceof Instance) await this.#retire(r);
        else if (!signal.aborted) member.undecided = { code: null, signal: null, error: `never became ready: ${r.failed}` };
        return;
      }
      member.pendingAt = null;
      if (!(r instanceof Instance)) {
        this.#decide(member, { code: null, signal: null, error: `never became ready: ${r.failed}` }, null, `${r.label} restarted but never became ready (${r.failed})`);
        return;
      }
      this.#serve(r);
      member.instance = r;
      member.restarts++;
      member.down = null;
      this.#restarts.inc();
      this.#log.info({ version: r.version, instance: r.slot, instance_pid: r.pid, restarts: member.restarts }, `${r.label} restarted (restart ${member.streak} in a row), ready on ${r.address}, back in app ${this.#config.app}`);
      this.#events.publish('service.restart', { service: this.name, version: r.version, instance: r.slot, pid: r.pid, restarts: member.restarts });
      this.#healthChanged();
    } finally {
      member.restarting = null;
    }
  }

  /** Instances that serve: current ones, and old ones beside their replacements. */
  *#serving(): Iterable<Instance> {
    for (const m of this.#members) if (m.serving) yield m.instance!;
    for (const i of this.#previous) if (i.state === 'ready') yield i;
  }

  #servingText(): string {
    const labels = [...this.#serving()].map((i) => i.label);
    if (labels.length === 0) return 'nothing is serving';
    return `${labels.join(', ')} ${labels.length === 1 ? 'keeps' : 'keep'} serving`;
  }

  /** Resolves after `ms`, when one of `also` settles, or at once when the controller closes. */
  async #wait(ms: number, ...also: Array<Promise<unknown> | AbortSignal>): Promise<void> {
    const stop = new AbortController();
    const signals = [this.#abort.signal, stop.signal, ...also.filter((a): a is AbortSignal => a instanceof AbortSignal)];
    const promises = also.filter((a): a is Promise<unknown> => !(a instanceof AbortSignal));
    try {
      await Promise.race([sleep(ms, undefined, { signal: AbortSignal.any(signals) }).catch(() => undefined), ...promises]);
    } finally {
      stop.abort();
    }
  }

  // ── views ─────────────────────────────────────────────────────────────

  #health(): ServiceSummary['health'] {
    if (this.#stopped) return 'down';
    const serving = [...this.#serving()].length;
    if (serving === 0) return 'down';
    return this.#members.filter((m) => m.serving).length >= this.#scale ? 'ok' : 'degraded';
  }

  #degradedReason(): string | null {
    if (this.#stopped) return `stopped (proxyctl service start ${this.name})`;
    const reasons = this.#members.filter((m) => !m.serving && m.down).map((m) => m.down!);
    const missing = this.#scale - this.#members.filter((m) => m.serving || m.down).length;
    if (reasons.length === 0 && (missing <= 0 || this.#op || !this.#release)) return null;
    if (missing > 0 && !this.#op && this.#release) reasons.push(`${missing} of ${this.#scale} instance(s) not running (proxyctl service start ${this.name})`);
    return reasons.join('; ');
  }

  #healthChanged(): void {
    const health = this.#health();
    if (health === this.#lastHealth) return;
    const first = this.#lastHealth === null;
    this.#lastHealth = health;
    if (first && health === 'down' && !this.#release) return;
    this.#events.publish('service.health', { service: this.name, health, reason: health === 'ok' ? null : this.#degradedReason() });
  }

  summary(): ServiceSummary {
    const last = this.#deploys.at(-1);
    const instances = this.#instanceInfos();
    return {
      name: this.name,
      app: this.#config.app,
      state: this.#state,
      health: this.#health(),
      version: this.#release?.version ?? null,
      scale: this.#scale,
      ready: this.#members.filter((m) => m.serving).length,
      restarts: this.#restarts.value,
      current: instances.find((i) => i.role === 'current') ?? null,
      previous: instances.find((i) => i.role === 'previous') ?? null,
      launching: instances.find((i) => i.role === 'launching') ?? null,
      instances,
      req_rate: this.#reqRate(),
      last_deploy: last ? structuredClone(last) : null,
    };
  }

  info(): ServiceInfo {
    const cfg = this.#config;
    return {
      ...this.summary(),
      degraded_reason: this.#degradedReason(),
      restart: { policy: cfg.restart, max_restarts: cfg.max_restarts, restart_delay: cfg.restart_delay },
      config_changed: this.#release !== null && !sameSpec(this.#release, specOf(cfg)),
      previous_version: this.#previousVersion,
      deploys: structuredClone(this.#deploys),
      shards: this.#puller.shards(),
    };
  }

  /** Releases and operations from state.db: what survived every restart. */
  history(limit?: number): ServiceHistoryView {
    return {
      service: this.name,
      version: this.#release?.version ?? null,
      previous_version: this.#previousVersion,
      releases: this.#history.releases(this.name),
      deploys: this.#history.deploys(this.name, limit),
    };
  }

  /** The last `n` lines of instance output, oldest first. */
  logs(n: number): ServiceLogLine[] {
    return this.#logs.tail(n);
  }

  /** Pulls ExportShardStats from every serving instance once (the timer's job; public for tests). */
  pullStats(): Promise<void> {
    return this.#puller.pull();
  }

  /** Stops every instance (SIGTERM, SIGKILL after stop_timeout), an operation or a restart in flight included. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      for (const m of this.#members) this.#cancelRestart(m);
      await this.#op?.catch(() => undefined);
      await Promise.all(this.#members.map((m) => m.restarting?.done));
      const all = new Set<Instance>([...this.#members.map((m) => m.instance).filter((i): i is Instance => i !== null), ...this.#previous, ...this.#launching]);
      await Promise.all([...all].map((i) => this.#retire(i)));
      this.#members = [];
      this.#previous.clear();
      this.#puller.close();
      this.#deps.stats.remove();
    })();
    return this.#closing;
  }

  /** SIGKILL to every instance's process group now (the agent's stop deadline passed during close()). */
  kill(): void {
    for (const inst of this.#live) inst.kill();
  }

  #reqRate(): number {
    let rate = 0;
    for (const i of this.#serving()) rate += this.#puller.instance(i.key)?.rate_1s ?? 0;
    return rate;
  }

  #instanceInfos(): InstanceInfo[] {
    const out: InstanceInfo[] = [];
    for (const m of this.#members) {
      if (!m.instance) continue;
      out.push(this.#instanceInfo(m.instance, 'current', m));
    }
    for (const i of this.#previous) out.push(this.#instanceInfo(i, 'previous', null));
    for (const i of this.#launching) out.push(this.#instanceInfo(i, 'launching', null));
    return out;
  }

  #instanceInfo(inst: Instance, role: InstanceInfo['role'], member: Member | null): InstanceInfo {
    const exit = inst.exit;
    return {
      instance: inst.slot,
      version: inst.version,
      role,
      state: inst.state,
      pid: inst.pid,
      port: inst.port,
      address: inst.address,
      launched_at: iso(inst.launchedAt),
      ready_at: inst.readyAt === null ? null : iso(inst.readyAt),
      exit: exit && { code: exit.code, signal: exit.signal, at: iso(exit.at), error: exit.error },
      requests: this.#puller.instance(inst.key),
      restarts: member?.restarts ?? 0,
      next_restart_at: member?.pendingAt ? iso(member.pendingAt) : null,
      gave_up: member?.gaveUp ?? false,
    };
  }
}

export function describeExit(exit: ExitLike): string {
  if (exit.error) return exit.error;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}
