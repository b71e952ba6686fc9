import { getSystemErrorName } from 'node:util';
import { balanceTable, type BalanceTable } from '../balancer.js';
import type { NativeAddon, NativeEngineHandle } from './native-addon.js';
import {
  ListenError,
  type AppEvents,
  type BalanceMode,
  type ConnectionInfo,
  type CounterView,
  type Engine,
  type EngineApp,
  type EngineAppOptions,
  type EngineListener,
  type EngineTarget,
} from './types.js';

/**
 * The native engine: a thin wrapper of the addon (native/). Every call here
 * is a few integers across N-API; the workers never call JavaScript except
 * through the batched event callback.
 */

const BALANCE: Record<BalanceMode, number> = { 'round-robin': 0, random: 1, 'least-conn': 2, sharding: 3 };
const EV_CONNECT_FAILED = 1;
const EV_TARGET_IDLE = 2;
const EV_APP_IDLE = 3;

/** A counter block: slot 0 the shared active gauge, then one stripe per worker thread, summed on read. */
class BlockCounters implements CounterView {
  readonly #u: BigUint64Array;
  readonly #s: BigInt64Array;
  readonly #shared: number;
  readonly #stride: number;
  readonly #threads: number;
  constructor(buf: ArrayBuffer, shared: number, stride: number, threads: number) {
    this.#u = new BigUint64Array(buf);
    this.#s = new BigInt64Array(buf);
    this.#shared = shared;
    this.#stride = stride;
    this.#threads = threads;
  }
  get(field: number): number {
    if (field === 0) return Number(this.#s[0]!);
    let sum = 0n;
    for (let t = 0; t < this.#threads; t++) sum += this.#u[this.#shared + t * this.#stride + field]!;
    return Number(sum);
  }
}

class NativeTarget implements EngineTarget {
  constructor(
    readonly id: number,
    readonly address: string,
    readonly host: string,
    readonly port: number,
    readonly counters: CounterView,
  ) {}
}

class NativeApp implements EngineApp {
  readonly targets = new Map<number, NativeTarget>();
  #options: EngineAppOptions | null = null;
  #table: BalanceTable<EngineTarget> | null = null;
  constructor(
    readonly engine: NativeEngine,
    readonly id: number,
    readonly counters: CounterView,
    readonly events: AppEvents,
  ) {}

  get options(): EngineAppOptions | null {
    return this.#options;
  }

  createTarget(address: string, host: string, port: number): EngineTarget {
    const [id, buf] = this.engine.h.createTarget(this.id, address, host, port);
    const t = new NativeTarget(id, address, host, port, this.engine.counters(buf, 'target'));
    this.targets.set(id, t);
    return t;
  }

  publish(o: EngineAppOptions, usable: readonly EngineTarget[], weights: readonly number[]): void {
    this.#options = o;
    const opts = new Float64Array([o.protocol === 'foo' ? 1 : 0, BALANCE[o.balance], o.connectTimeoutMs, o.idleTimeoutMs, o.halfClosedTimeoutMs, o.maxConnections, o.fooCloseOnInvalid ? 1 : 0, o.fooMaxLine]);
    // The round-robin sequence is computed here, once, by the same code the node engine uses.
    const table = (this.#table = balanceTable(usable, weights, this.#table));
    this.engine.h.publish(this.id, opts, Uint32Array.from(usable, (t) => (t as NativeTarget).id), Uint32Array.from(table.weights), table.schedule);
  }

  watchIdle(target: EngineTarget): void {
    if (this.engine.h.watchTarget((target as NativeTarget).id)) this.events.targetIdle(target);
  }

  releaseTarget(target: EngineTarget): void {
    const t = target as NativeTarget;
    this.targets.delete(t.id);
    this.engine.h.releaseTarget(t.id);
  }

  retire(): void {
    if (this.engine.h.retireApp(this.id)) this.engine.appIdle(this);
  }

  closeConnections(): void {
    this.engine.h.closeConnections(this.id);
  }

  listConnections(limit: number): Promise<ConnectionInfo[]> {
    return Promise.resolve(this.engine.h.listConnections(this.id, limit));
  }
}

class NativeListener implements EngineListener {
  constructor(
    readonly engine: NativeEngine,
    readonly id: number,
    readonly port: number,
  ) {}
  setApp(app: EngineApp): void {
    this.engine.h.setListenerApp(this.id, (app as NativeApp).id);
  }
  close(): void {
    this.engine.h.unlisten(this.id);
  }
}

export class NativeEngine implements Engine {
  readonly kind = 'native';
  readonly threads: number;
  readonly h: NativeEngineHandle;
  readonly #layout: NativeAddon['layout'];
  readonly #apps = new Map<number, NativeApp>();
  readonly #reclaimer: NodeJS.Timeout;

  constructor(addon: NativeAddon, threads: number) {
    this.threads = threads;
    this.#layout = addon.layout;
    this.h = new addon.Engine(threads, (ev) => this.#onEvents(ev));
    // Snapshots replaced by publish() are freed once every worker moved on; this sweeps the rest.
    this.#reclaimer = setInterval(() => this.h.reclaim(), 1000);
    this.#reclaimer.unref();
  }

  counters(buf: ArrayBuffer, kind: 'app' | 'target'): CounterView {
    const l = this.#layout;
    return new BlockCounters(buf, l.shared, kind === 'app' ? l.appStride : l.targetStride, this.threads);
  }

  createApp(_name: string, events: AppEvents): EngineApp {
    const [id, buf] = this.h.createApp();
    const app = new NativeApp(this, id, this.counters(buf, 'app'), events);
    this.#apps.set(id, app);
    return app;
  }

  listen(host: string, port: number, app: EngineApp, backlog: number): Promise<EngineListener> {
    const r = this.h.listen(host, port, (app as NativeApp).id, backlog);
    if (typeof r === 'number') {
      const code = getSystemErrorName(r);
      return Promise.reject(new ListenError(code, `listen ${code} ${host}:${port}`));
    }
    return Promise.resolve(new NativeListener(this, r[0], r[1]));
  }

  appIdle(app: NativeApp): void {
    this.#apps.delete(app.id);
    this.h.dropApp(app.id);
    app.events.appIdle();
  }

  close(): Promise<void> {
    clearInterval(this.#reclaimer);
    this.h.close();
    return Promise.resolve();
  }

  #onEvents(ev: Float64Array): void {
    for (let i = 0; i + 4 < ev.length; i += 5) {
      const kind = ev[i]!;
      const app = this.#apps.get(ev[i + 1]!);
      if (!app) continue;
      if (kind === EV_APP_IDLE) {
        this.appIdle(app);
        continue;
      }
      const target = app.targets.get(ev[i + 2]!);
      if (!target) continue;
      if (kind === EV_CONNECT_FAILED) {
        const errno = ev[i + 3]!;
        const reason = errno === 0 ? `connect timed out after ${(app.options?.connectTimeoutMs ?? 0) / 1000} s` : `connect: ${getSystemErrorName(-errno)}`;
        app.events.connectFailed(target, reason, ev[i + 4]!);
      } else if (kind === EV_TARGET_IDLE) {
        app.events.targetIdle(target);
      }
    }
  }
}
