import type { Namespace } from 'etcd3';
import { ConfigError } from '../config/load.js';
import { ProxyctlError } from '../errors.js';
import { changedSections, FLEET_SECTIONS, type FleetDocs, type FleetMeta, type FleetSection, type FleetSnapshot } from './documents.js';
import { CONFIG_PREFIX, configKey, META_KEY } from './keys.js';

export interface FleetWrite {
  /** The etcd revision of the write (the fleet config revision now), or the unchanged revision. */
  revision: number;
  /** The revision it replaced. */
  previous_revision: number;
  changed: FleetSection[];
}

/**
 * The fleet documents in etcd: one range read gives a consistent snapshot,
 * one transaction writes them. Every write also puts config/meta, so a
 * section deleted by a push still moves the fleet's revision.
 */
export class FleetStore {
  readonly #ns: Namespace;
  readonly #node: string;

  constructor(ns: Namespace, node: string) {
    this.#ns = ns;
    this.#node = node;
  }

  /** The documents now; revision = the highest mod revision among them (0 before any push). */
  async read(): Promise<FleetSnapshot> {
    const res = await this.#ns.getAll().prefix(CONFIG_PREFIX).exec();
    const snap: FleetSnapshot = { revision: 0, docs: {}, meta: null };
    const problems: string[] = [];
    for (const kv of res.kvs) {
      const key = kv.key.toString();
      snap.revision = Math.max(snap.revision, Number(kv.mod_revision));
      let value: unknown;
      try {
        value = JSON.parse(kv.value.toString());
      } catch (err) {
        problems.push(`etcd key ${key}: not valid JSON: ${(err as Error).message}`);
        continue;
      }
      if (key === META_KEY) snap.meta = value as FleetMeta;
      else {
        const section = FLEET_SECTIONS.find((s) => configKey(s) === key);
        if (section) (snap.docs as Record<string, unknown>)[section] = value;
      }
    }
    if (problems.length > 0) throw new ConfigError(`fleet revision ${snap.revision}`, problems);
    return snap;
  }

  /**
   * Replaces the documents with `next` in one transaction that succeeds only
   * if none of the fleet's keys moved after revision `guard` (the revision the
   * caller read): a concurrent write makes it fail with PXC_ERR_FLEET_CONFLICT
   * instead of being overwritten. Writes nothing when nothing changes.
   */
  async write(base: FleetSnapshot, next: FleetDocs, guard: number, what: string): Promise<FleetWrite> {
    if (guard < base.revision) throw conflict(guard, base.revision);
    const changed = changedSections(base.docs, next);
    if (changed.length === 0) return { revision: base.revision, previous_revision: base.revision, changed };
    const meta: FleetMeta = { by: this.#node, at: new Date().toISOString(), what };
    let txn = this.#ns.if(META_KEY, 'Mod', '<', guard + 1);
    for (const s of FLEET_SECTIONS) txn = txn.and(configKey(s), 'Mod', '<', guard + 1);
    const ops = changed.map((s) => (next[s] === undefined ? this.#ns.delete().key(configKey(s)) : this.#ns.put(configKey(s)).value(JSON.stringify(next[s]))));
    const res = await txn.then(...ops, this.#ns.put(META_KEY).value(JSON.stringify(meta))).commit();
    if (!res.succeeded) throw conflict(guard, null);
    return { revision: Number(res.header.revision), previous_revision: base.revision, changed };
  }
}

function conflict(read: number, now: number | null): ProxyctlError {
  return new ProxyctlError('PXC_ERR_FLEET_CONFLICT', `fleet config changed since you read it (revision ${read}${now === null ? '' : `, now ${now}`}); nothing was written: read it again (fleet get / fleet diff) and retry`);
}
