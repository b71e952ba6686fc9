import type { Counter, Gauge, StatsScope } from '../stats/registry.js';

/**
 * One backend of an app: its address, its operator state, its health and its
 * counters. A Target object outlives its removal from the app (reload, a
 * service replacing an instance) until its last connection has closed, so the
 * connections it carries keep counting on it.
 */
export type AdminState = 'enabled' | 'draining' | 'disabled';

export interface TargetInfo {
  address: string;
  state: AdminState;
  health: 'up' | 'down' | 'unchecked';
  /** Static targets come from the config; dynamic ones from a service (AppTargets.addTarget). */
  source: 'static' | 'dynamic' | 'static+dynamic';
  active: number;
  total: number;
  bytes_in: number;
  bytes_out: number;
  connect_failures: number;
  check_failures: number;
  last_error: string | null;
}

export class Target {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  state: AdminState = 'enabled';
  up = true;
  /** Consecutive check results toward rise / fall. */
  okStreak = 0;
  failStreak = 0;
  isStatic = false;
  isDynamic = false;
  /** False once the app forgot it; open connections still count here. */
  attached = true;
  lastError: string | null = null;
  /** Set by the app when it is removed while connections remain. */
  onIdle: (() => void) | undefined;

  readonly active: Gauge;
  readonly total: Counter;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly connectFailures: Counter;
  readonly checkFailures: Counter;
  readonly #scope: StatsScope;

  constructor(address: string, host: string, port: number, appScope: StatsScope) {
    this.address = address;
    this.host = host;
    this.port = port;
    this.#scope = appScope.scope('targets', { target: address });
    const s = this.#scope;
    this.active = s.gauge('connections_active', 'open client connections relayed to this target');
    this.total = s.counter('connections_total', 'client connections relayed to this target');
    this.bytesIn = s.counter('bytes_in', 'bytes from clients to this target');
    this.bytesOut = s.counter('bytes_out', 'bytes from this target to clients');
    this.connectFailures = s.counter('connect_failures', 'failed or timed-out connects to this target');
    this.checkFailures = s.counter('check_failures', 'failed active health checks');
    s.gauge('up', '1 when the target passes health checks', () => (this.up ? 1 : 0));
    s.text('state', 'enabled, draining or disabled', () => this.state);
  }

  /** Can take a new connection now. */
  get usable(): boolean {
    return this.up && this.state === 'enabled' && this.attached;
  }

  connectionOpened(): void {
    this.active.value++;
    this.total.value++;
  }

  connectionClosed(): void {
    this.active.value--;
    if (this.active.value === 0 && this.onIdle) {
      const cb = this.onIdle;
      this.onIdle = undefined;
      cb();
    }
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
    return {
      address: this.address,
      state: this.state,
      health: this.state === 'disabled' ? 'unchecked' : this.up ? 'up' : 'down',
      source: this.isStatic && this.isDynamic ? 'static+dynamic' : this.isDynamic ? 'dynamic' : 'static',
      active: this.active.value,
      total: this.total.value,
      bytes_in: this.bytesIn.value,
      bytes_out: this.bytesOut.value,
      connect_failures: this.connectFailures.value,
      check_failures: this.checkFailures.value,
      last_error: this.lastError,
    };
  }
}
