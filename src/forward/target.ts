import type { Counter, StatsScope } from '../stats/registry.js';
import { TARGET, type EngineTarget } from './engine/types.js';

/**
 * One backend of an app: its address, its operator state, its health, and
 * the engine's handle for it (whose counters the stats read). A Target object
 * outlives its removal from the app (reload, a service replacing an instance)
 * until its last connection has closed, so the connections it carries keep
 * counting on it.
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
    s.gauge('up', '1 when the target passes health checks', () => (this.up ? 1 : 0));
    s.text('state', 'enabled, draining or disabled', () => this.state);
  }

  /** Can take a new connection now. */
  get usable(): boolean {
    return this.up && this.state === 'enabled' && this.attached && this.handle !== null;
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
      health: this.state === 'disabled' ? 'unchecked' : this.up ? 'up' : 'down',
      source: this.isStatic && this.isDynamic ? 'static+dynamic' : this.isDynamic ? 'dynamic' : 'static',
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
