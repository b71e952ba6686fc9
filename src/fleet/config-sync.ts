import type { Namespace, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { StateStore } from '../state/state-db.js';
import type { EtcdConnection } from './connection.js';
import type { FleetSnapshot } from './documents.js';
import { CONFIG_PREFIX } from './keys.js';
import { cancelWatch } from './watch.js';
import type { FleetStore } from './store.js';

/** state.db key of the last applied fleet config: what a restart serves while etcd is away. */
export const APPLIED_STATE_KEY = 'fleet.applied';

interface Persisted extends FleetSnapshot {
  /** The fleet it came from: a snapshot of another prefix is not ours. */
  prefix: string;
}

const NOTHING: FleetSnapshot = { revision: 0, docs: {}, meta: null };

export interface ApplyError {
  revision: number;
  message: string;
}

export interface ConfigSyncOptions {
  prefix: string;
  store: FleetStore;
  state: StateStore;
  conn: EtcdConnection;
  log: Logger;
  /** Applies a snapshot through the agent's validated reload path; throws (changing nothing) when it cannot. */
  apply(snapshot: FleetSnapshot): Promise<void>;
  /** The applied revision or the error changed: the node record should say so. */
  onStateChange(): void;
}

/**
 * Keeps the agent on the fleet's config. Any change under config/ (a watch
 * event) and every reconnection trigger a resync: one range read, the
 * snapshot at one revision, applied unless it is the one running. Watch
 * events are only a doorbell, so a lost or replayed event cannot lose or
 * double an update; reads never overlap, and a burst of changes collapses
 * into one read of the newest state.
 */
export class ConfigSync {
  readonly #ns: Namespace;
  readonly #o: ConfigSyncOptions;
  #latest: FleetSnapshot | null;
  #applied: FleetSnapshot | null = null;
  #error: ApplyError | null = null;
  #watcher: Watcher | null = null;
  #syncing: Promise<void> | null = null;
  #again = false;
  #closed = false;

  constructor(ns: Namespace, opts: ConfigSyncOptions) {
    this.#ns = ns;
    this.#o = opts;
    this.#latest = this.#restore();
  }

  /** The newest snapshot known: from etcd, or the persisted one until etcd answers. */
  get latest(): FleetSnapshot | null {
    return this.#latest;
  }

  get applied(): FleetSnapshot | null {
    return this.#applied;
  }

  get error(): ApplyError | null {
    return this.#error;
  }

  start(): void {
    this.#watch();
  }

  #watch(): void {
    if (this.#closed) return;
    const w = this.#ns.watch().prefix(CONFIG_PREFIX).watcher();
    this.#watcher = w;
    w.on('connected', () => {
      this.#o.conn.ok();
      this.sync();
    });
    w.on('disconnected', (err) => this.#o.conn.failed(err));
    w.on('data', () => this.sync());
    // A watch etcd cancels (its start revision was compacted away while we were gone): watch anew, resync.
    w.on('error', (err) => {
      // etcd already dropped it (the manager forgot it too): only a new one is needed.
      this.#o.log.warn({ err: err.message }, 'fleet: config watch cancelled by etcd; watching again');
      if (this.#watcher === w) this.#watch();
    });
  }

  /** Reads the fleet config and applies it if it is new; calls made while one runs fold into one more. */
  sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    const run = async () => {
      do {
        this.#again = false;
        await this.#syncOnce();
      } while (this.#again && !this.#closed);
    };
    this.#syncing = run().finally(() => (this.#syncing = null));
    return this.#syncing;
  }

  async #syncOnce(): Promise<void> {
    if (this.#closed) return;
    let snap: FleetSnapshot;
    try {
      snap = await this.#o.store.read();
      this.#o.conn.ok();
    } catch (err) {
      if ((err as { code?: string }).code === 'PXC_ERR_CONFIG') this.#refuse(this.#latest?.revision ?? 0, (err as Error).message);
      else this.#o.conn.failed(err);
      return;
    }
    this.#latest = snap;
    if (this.#isApplied(snap) || (this.#error !== null && this.#error.revision === snap.revision)) return;
    try {
      await this.#o.apply(snap);
    } catch (err) {
      this.#refuse(snap.revision, (err as Error).message);
    }
  }

  /** Whether the agent runs this snapshot already (before any: the empty fleet, which changes nothing). */
  #isApplied(snap: FleetSnapshot): boolean {
    const a = this.#applied ?? NOTHING;
    return a.revision === snap.revision && JSON.stringify(a.docs) === JSON.stringify(snap.docs);
  }

  /** The agent now runs `snap` (a fleet apply, or a reload of the file over it): persist it. */
  markApplied(snap: FleetSnapshot): void {
    const changed = !this.#isApplied(snap) || this.#error !== null;
    this.#applied = snap;
    this.#error = null;
    if (!changed) return;
    const persisted: Persisted = { prefix: this.#o.prefix, ...snap };
    this.#o.state.set(APPLIED_STATE_KEY, persisted);
    this.#o.log.info({ revision: snap.revision }, `fleet: config revision ${snap.revision} applied`);
    this.#o.onStateChange();
  }

  /** A snapshot the agent could not apply: it keeps its running config and says why in its node record. */
  #refuse(revision: number, message: string): void {
    this.#error = { revision, message };
    this.#o.log.error({ revision }, `fleet: config revision ${revision} refused, running config kept: ${message}`);
    this.#o.onStateChange();
  }

  refused(snap: FleetSnapshot, message: string): void {
    this.#refuse(snap.revision, message);
  }

  #restore(): FleetSnapshot | null {
    const saved = this.#o.state.get<Persisted>(APPLIED_STATE_KEY);
    if (!saved || saved.prefix !== this.#o.prefix) return null;
    return { revision: saved.revision, docs: saved.docs, meta: saved.meta };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#syncing?.catch(() => undefined);
    if (this.#watcher) await cancelWatch(this.#watcher);
    this.#watcher = null;
  }
}
