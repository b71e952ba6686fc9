import type { Counter, StatsScope } from '../stats/registry.js';
import { TARGET, type EngineTarget } from './engine/types.js';

/**
 * One backend of an app: its address, its operator state, its weight, its
 * health, and the engine's handle for it (whose counters the stats read). A
 * Target object outlives its removal from the app (reload, target remove, a
 * service replacing an instance) until its last connection has closed, so
 * the connections it carries keep counting on it.
 */
export type AdminState = 'enabled' | 'draining' | 'disabled';

/**
 * up: the last check passed (or connects succeed); down: checks or connect
 * failures took it out; unknown: no check result yet (a target added by the
 * config or `target add` until its first check, a disabled one while its
 * checks are stopped). Like HAProxy, an unknown target takes traffic, and its
 * first check decides at once: a pass makes it up, a failure down.
 */
export type Health = 'up' | 'down' | 'unknown';

/** Where a target comes from: the config, `target add`, a service's instance, or two of them. */
export type TargetSource = 'static' | 'runtime' | 'dynamic' | 'static+dynamic' | 'runtime+dynamic';

export interface TargetInfo {
  address: string;
  state: AdminState;
  health: Health;
  /** Share of new connections relative to the other targets (0-256); 0 takes none. */
  weight: number;
  source: TargetSource;
  active: number;
  total: number;
  bytes_in: number;
  bytes_out: number;
  connect_failures: number;
  check_failures: number;
  last_error: string | null;
}

/** The last active health check of a target. */
export interface CheckResult {
  ok: boolean;
  timedOut: boolean;
  error: string | null;
  durationMs: number;
}

export class Target {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  state: AdminState = 'enabled';
  /** Passes health as far as traffic goes: true until checks or connect failures take it down. */
  up = true;
  /** A check result exists; false since it was added or disabled (health `unknown` while up). */
  checked = false;
  /** Consecutive check results toward rise / fall. */
  okStreak = 0;
  failStreak = 0;
  /** The config or `target add` lists it (null: only a service's instance). */
  origin: 'static' | 'runtime' | null = null;
  isDynamic = false;
  weight = 1;
  /** False once the app forgot it; open connections still count here. */
  attached = true;
  lastError: string | null = null;
  lastCheck: CheckResult | null = null;
  /** Health or admin state changes (app stats: lastchg, chkdown, downtime). */
  changedAt = Date.now();
  downCount = 0;
  #downSince: number | null = null;
  #downMs = 0;
  /** Set by the app when it is removed while connections remain. */
  onIdle: (() => void) | undefined;
  /** The engine's handle; null while the host name is being resolved (not usable until then). */
  handle: EngineTarget | null = null;
  /** The target's `total` at the last passive failure: if it moved, a connect succeeded in between. */
  totalAtLastFailure = -1;

  readonly checkFailures: Counter;
  readonly #scope: StatsScope;

  constructor(address: string, host: string, port: number, appScope: StatsScope) {
    this.address = address;
    this.host = host;
    this.port = port;
    this.#scope = appScope.scope('targets', { target: address });
    const s = this.#scope;
    const read = (field: number) => () => this.handle?.counters.get(field) ?? 0;
    s.gauge('connections_active', 'open client connections relayed to this target', read(TARGET.active));
    s.counter('connections_total', 'client connections relayed to this target', read(TARGET.total));
    s.counter('bytes_in', 'bytes from clients to this target', read(TARGET.bytes_in));
    s.counter('bytes_out', 'bytes from this target to clients', read(TARGET.bytes_out));
    s.counter('connect_failures', 'failed or timed-out connects to this target', read(TARGET.connect_failures));
    this.checkFailures = s.counter('check_failures', 'failed active health checks');
    // Not `up`: under the app scope that would be proxyctl_apps_targets_up, the app's own count of up targets.
    s.gauge('healthy', '1 when the target passed its last health check (0 when down, and while unknown: never checked yet)', () => (this.health === 'up' ? 1 : 0));
    s.gauge('weight', 'share of new connections relative to the other targets (0 takes none)', () => this.weight);
    s.text('state', 'enabled, draining or disabled', () => this.state);
    s.text('health', 'up, down or unknown (no check result yet)', () => this.health);
  }

  get health(): Health {
    if (this.state === 'disabled') return 'unknown';
    if (!this.up) return 'down';
    return this.checked ? 'up' : 'unknown';
  }

  /** Can take a new connection now (an unknown target can, as in HAProxy). */
  get usable(): boolean {
    return this.up && this.state === 'enabled' && this.weight > 0 && this.attached && this.handle !== null;
  }

  get source(): TargetSource {
    if (this.origin === null) return 'dynamic';
    return this.isDynamic ? `${this.origin}+dynamic` : this.origin;
  }

  /** Total time spent down, up to now. */
  downMs(now = Date.now()): number {
    return this.#downMs + (this.#downSince === null ? 0 : now - this.#downSince);
  }

  /** The app noted a change of health or admin state (for lastchg, chkdown, downtime). */
  noteChange(now = Date.now()): void {
    this.changedAt = now;
    if (!this.up && this.#downSince === null) {
      this.#downSince = now;
      this.downCount++;
    } else if (this.up && this.#downSince !== null) {
      this.#downMs += now - this.#downSince;
      this.#downSince = null;
    }
  }

  /**
   * An active check finished. The first result of a never-checked target
   * decides at once (HAProxy starts a server at the edge of up: one failed
   * check takes it down); after that, `rise` passes bring it up and `fall`
   * failures take it down.
   */
  recordCheck(r: CheckResult, rise: number, fall: number): void {
    this.lastCheck = r;
    if (!r.ok) {
      this.checkFailures.value++;
      this.lastError = r.error;
    }
    if (!this.checked && this.up) {
      this.checked = true;
      this.okStreak = this.failStreak = 0;
      if (!r.ok) this.up = false;
      return;
    }
    this.checked = true;
    if (r.ok) this.recordSuccess(rise);
    else this.recordFailure(fall, r.error ?? 'health check failed');
  }

  get active(): number {
    return this.handle?.counters.get(TARGET.active) ?? 0;
  }

  /** A check or a connect succeeded. Returns true when the target just came up. */
  recordSuccess(rise: number): boolean {
    this.failStreak = 0;
    if (this.up) return false;
    if (++this.okStreak >= rise) {
      this.up = true;
      this.okStreak = 0;
      return true;
    }
    return false;
  }

  /** A check or a connect failed. Returns true when the target just went down. */
  recordFailure(fall: number, error: string): boolean {
    this.lastError = error;
    this.okStreak = 0;
    if (!this.up) return false;
    if (++this.failStreak >= fall) {
      this.up = false;
      this.failStreak = 0;
      return true;
    }
    return false;
  }

  /** Drops this target's metrics (it was forgotten). */
  removeStats(): void {
    this.#scope.remove();
  }

  info(): TargetInfo {
    const c = this.handle?.counters;
    const get = (f: number) => c?.get(f) ?? 0;
    return {
      address: this.address,
      state: this.state,
      health: this.health,
      weight: this.weight,
      source: this.source,
      active: get(TARGET.active),
      total: get(TARGET.total),
      bytes_in: get(TARGET.bytes_in),
      bytes_out: get(TARGET.bytes_out),
      connect_failures: get(TARGET.connect_failures),
      check_failures: this.checkFailures.value,
      last_error: this.lastError,
    };
  }
}
