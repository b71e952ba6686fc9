import type { SqliteDatabase } from '../state/state-db.js';
import type { DeployRecord } from './records.js';
import type { Release } from './release.js';

/**
 * A service's releases, operations and run-time state in state.db, so that
 * `service history`, `deploy --rollback` and what was serving survive the
 * agent's restart. Small tables, a write per phase of an operation.
 */

/** What the agent restores at start. */
export interface ServiceRunState {
  /** The release serving (null: never deployed). */
  version: number | null;
  /** The release that served before it: `deploy --rollback` goes back to it. */
  previous_version: number | null;
  /** Instances set by `service scale` (null: the config's). */
  scale: number | null;
  /** services[].instances when the scale was set: a config that changes it since wins. */
  config_instances: number | null;
  /** Stopped with `service stop` (until service start, restart or a deploy). */
  stopped: boolean;
}

/** Operations kept per service. */
export const HISTORY_DEPLOYS = 100;
/** Releases kept per service (the serving and previous ones always). */
export const HISTORY_RELEASES = 50;

const EMPTY: ServiceRunState = { version: null, previous_version: null, scale: null, config_instances: null, stopped: false };

export class ServiceHistory {
  readonly #db: SqliteDatabase;
  readonly #q;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS service_releases (service TEXT NOT NULL, version INTEGER NOT NULL, release TEXT NOT NULL, PRIMARY KEY (service, version));
      CREATE TABLE IF NOT EXISTS service_deploys (service TEXT NOT NULL, id INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (service, id));
      CREATE TABLE IF NOT EXISTS service_state (service TEXT PRIMARY KEY, state TEXT NOT NULL);
    `);
    this.#q = {
      putRelease: db.prepare<[string, number, string]>('INSERT OR REPLACE INTO service_releases (service, version, release) VALUES (?, ?, ?)'),
      releases: db.prepare<[string], { release: string }>('SELECT release FROM service_releases WHERE service = ? ORDER BY version'),
      release: db.prepare<[string, number], { release: string }>('SELECT release FROM service_releases WHERE service = ? AND version = ?'),
      lastVersion: db.prepare<[string], { v: number | null }>('SELECT MAX(version) AS v FROM service_releases WHERE service = ?'),
      pruneReleases: db.prepare<[string, string, number, number, number]>(
        'DELETE FROM service_releases WHERE service = ? AND version NOT IN (SELECT version FROM service_releases WHERE service = ? ORDER BY version DESC LIMIT ?) AND version NOT IN (?, ?)',
      ),
      putDeploy: db.prepare<[string, number, string]>('INSERT OR REPLACE INTO service_deploys (service, id, record) VALUES (?, ?, ?)'),
      deploys: db.prepare<[string, number], { record: string }>('SELECT record FROM (SELECT id, record FROM service_deploys WHERE service = ? ORDER BY id DESC LIMIT ?) ORDER BY id'),
      lastDeploy: db.prepare<[string], { id: number | null }>('SELECT MAX(id) AS id FROM service_deploys WHERE service = ?'),
      pruneDeploys: db.prepare<[string, string, number]>('DELETE FROM service_deploys WHERE service = ? AND id <= (SELECT MAX(id) FROM service_deploys WHERE service = ?) - ?'),
      getState: db.prepare<[string], { state: string }>('SELECT state FROM service_state WHERE service = ?'),
      putState: db.prepare<[string, string]>('INSERT OR REPLACE INTO service_state (service, state) VALUES (?, ?)'),
    };
  }

  get #open(): boolean {
    return this.#db.open;
  }

  state(service: string): ServiceRunState {
    if (!this.#open) return { ...EMPTY };
    const row = this.#q.getState.get(service);
    return row ? { ...EMPTY, ...(JSON.parse(row.state) as Partial<ServiceRunState>) } : { ...EMPTY };
  }

  saveState(service: string, state: ServiceRunState): void {
    if (this.#open) this.#q.putState.run(service, JSON.stringify(state));
  }

  releases(service: string): Release[] {
    if (!this.#open) return [];
    return this.#q.releases.all(service).map((r) => JSON.parse(r.release) as Release);
  }

  release(service: string, version: number): Release | null {
    if (!this.#open) return null;
    const row = this.#q.release.get(service, version);
    return row ? (JSON.parse(row.release) as Release) : null;
  }

  lastVersion(service: string): number {
    return this.#open ? (this.#q.lastVersion.get(service)?.v ?? 0) : 0;
  }

  /** Stores a new release; keeps the newest HISTORY_RELEASES and the ones in `keep`. */
  addRelease(service: string, release: Release, keep: readonly (number | null)[]): void {
    if (!this.#open) return;
    this.#db.transaction(() => {
      this.#q.putRelease.run(service, release.version, JSON.stringify(release));
      this.#q.pruneReleases.run(service, service, HISTORY_RELEASES, keep[0] ?? -1, keep[1] ?? -1);
    })();
  }

  deploys(service: string, limit = HISTORY_DEPLOYS): DeployRecord[] {
    if (!this.#open) return [];
    return this.#q.deploys.all(service, limit).map((r) => JSON.parse(r.record) as DeployRecord);
  }

  lastDeployId(service: string): number {
    return this.#open ? (this.#q.lastDeploy.get(service)?.id ?? 0) : 0;
  }

  /** Inserts or updates an operation's record (each phase, and its end). */
  saveDeploy(record: DeployRecord): void {
    if (!this.#open) return;
    this.#q.putDeploy.run(record.service, record.id, JSON.stringify(record));
    if (record.id % 16 === 0) this.#q.pruneDeploys.run(record.service, record.service, HISTORY_DEPLOYS);
  }
}
