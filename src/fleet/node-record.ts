import type { Lease, Namespace } from 'etcd3';
import type { Logger } from 'pino';
import type { EtcdConnection } from './connection.js';
import { nodeKey } from './keys.js';

/** A node as `fleet status` shows it: `<prefix>nodes/<node>`, JSON, under the node's lease. */
export interface NodeRecord {
  node: string;
  hostname: string;
  version: string;
  /** forward.engine of the node. */
  engine: string;
  pid: number;
  started_at: string;
  /** When this record was written (it is rewritten every lease_ttl/2 s). */
  heartbeat_at: string;
  /** The fleet config revision the node runs (0: none applied). */
  config_revision: number;
  /** Why the node refused the fleet's newest revision, if it did (it keeps running config_revision). */
  error: string | null;
  /** Apps with every port listening, and the others. */
  apps_up: string[];
  apps_down: string[];
  services: Array<{ name: string; version: number | null; state: string }>;
}

/** How often the record's content is compared with what was last written. */
const CHANGE_CHECK_MS = 1000;

const shape = (r: NodeRecord): string => JSON.stringify({ ...r, heartbeat_at: null });

export interface NodeRegistrationOptions {
  node: string;
  /** Lease TTL in seconds. */
  ttl: number;
  conn: EtcdConnection;
  log: Logger;
  record(): NodeRecord;
  /** Counts each record write (etcd traffic at rest). */
  onWrite(): void;
}

/**
 * This agent's presence in the fleet: a lease kept alive by etcd3 (every
 * ttl/3 s on one stream), and the node record under it, rewritten every
 * ttl/2 s and within a second when something in it changes. The record goes with the
 * lease: revoked at a clean stop, expired ttl seconds after a crash. A lease
 * lost while etcd was away is replaced by a new one when it is back.
 */
export class NodeRegistration {
  readonly #ns: Namespace;
  readonly #o: NodeRegistrationOptions;
  #lease: Lease | null = null;
  #timer: NodeJS.Timeout | undefined;
  #watchTimer: NodeJS.Timeout | undefined;
  /** The record as last written, heartbeat aside. */
  #written = '';
  #writing: Promise<void> | null = null;
  #again = false;
  #started = false;
  #closed = false;

  constructor(ns: Namespace, opts: NodeRegistrationOptions) {
    this.#ns = ns;
    this.#o = opts;
  }

  /** The node's lease while it has one (deploy statuses go under it too). */
  get lease(): Lease | null {
    return this.#lease;
  }

  start(): void {
    if (this.#closed) return;
    this.#started = true;
    this.#timer = setInterval(() => void this.touch(), Math.max(500, (this.#o.ttl * 1000) / 2));
    this.#timer.unref();
    // A local change (an app port opening, a deploy moving on) shows within a second; checking costs no etcd traffic.
    this.#watchTimer = setInterval(() => {
      if (shape(this.#o.record()) !== this.#written) void this.touch();
    }, CHANGE_CHECK_MS);
    this.#watchTimer.unref();
    void this.touch();
  }

  /** Writes the record now (folded into the write in flight, if any); nothing before start(). */
  touch(): Promise<void> {
    if (!this.#started || this.#closed) return Promise.resolve();
    if (this.#writing) {
      this.#again = true;
      return this.#writing;
    }
    const run = async () => {
      do {
        this.#again = false;
        await this.#write();
      } while (this.#again && !this.#closed);
    };
    this.#writing = run().finally(() => (this.#writing = null));
    return this.#writing;
  }

  async #write(): Promise<void> {
    const lease = this.#lease ?? this.#grant();
    const record = this.#o.record();
    try {
      await lease.put(nodeKey(this.#o.node)).value(JSON.stringify(record));
      this.#written = shape(record);
      this.#o.onWrite();
      this.#o.conn.ok();
    } catch (err) {
      this.#o.conn.failed(err);
    }
  }

  #grant(): Lease {
    const lease = this.#ns.lease(this.#o.ttl);
    this.#lease = lease;
    lease.on('lost', (err) => {
      if (this.#lease !== lease) return;
      // Not renewed for too long (etcd away) or gone in etcd: the next write grants a new one.
      this.#lease = null;
      this.#o.log.warn({ err: err.message }, 'fleet: node lease lost; a new one is granted when etcd answers');
    });
    lease.on('keepaliveSucceeded', () => this.#o.conn.ok());
    lease.on('keepaliveFailed', (err) => this.#o.conn.failed(err));
    return lease;
  }

  /** Revokes the lease, so the record disappears now rather than lease_ttl from now. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    clearInterval(this.#watchTimer);
    await this.#writing?.catch(() => undefined);
    const lease = this.#lease;
    this.#lease = null;
    if (!lease) return;
    if (this.#o.conn.connected) await lease.revoke({ deadline: Date.now() + 1000 }).catch(() => lease.release());
    else lease.release();
  }
}
