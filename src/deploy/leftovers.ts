import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { SqliteDatabase } from '../state/state-db.js';
import { procEnv, procInfo, processGroup, type ProcInfo } from './proc.js';

/**
 * Service instances outlive a `kill -9` of the agent: they run in process
 * groups of their own, and only the built-in data proxy watches its agent.
 * So every instance is recorded in state.db while it runs (pid, process
 * group, start time from /proc), and the next agent on the state dir stops
 * the leftovers that are still the processes it recorded before it launches
 * new ones. A pid alone proves nothing (pids are reused); pid and start time
 * together name one process.
 */

export interface InstanceRecord {
  pid: number;
  pgid: number;
  start_time: number;
  service: string;
  version: number;
  /** The agent that launched it (its PROXYCTL_AGENT_PID). */
  agent_pid: number;
}

export interface ReapedInstance {
  service: string;
  version: number;
  pid: number;
  pgid: number;
  /** Processes of its group that were still running. */
  processes: number[];
  /** True when SIGTERM was not enough. */
  killed: boolean;
}

const POLL_MS = 25;

export class InstanceLedger {
  readonly #db: SqliteDatabase;
  readonly #insert;
  readonly #delete;
  readonly #all;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS deploy_instances (
      pid INTEGER PRIMARY KEY,
      pgid INTEGER NOT NULL,
      start_time INTEGER NOT NULL,
      service TEXT NOT NULL,
      version INTEGER NOT NULL,
      agent_pid INTEGER NOT NULL
    )`);
    this.#insert = db.prepare<[number, number, number, string, number, number]>('INSERT OR REPLACE INTO deploy_instances (pid, pgid, start_time, service, version, agent_pid) VALUES (?, ?, ?, ?, ?, ?)');
    this.#delete = db.prepare<[number]>('DELETE FROM deploy_instances WHERE pid = ?');
    this.#all = db.prepare<[], InstanceRecord>('SELECT pid, pgid, start_time, service, version, agent_pid FROM deploy_instances ORDER BY pid');
  }

  /** Records a just-launched instance; false when it is already gone. */
  record(instance: { pid: number | null; service: string; version: number }): boolean {
    if (instance.pid === null || !this.#db.open) return false;
    const info = procInfo(instance.pid);
    if (!info) return false;
    this.#insert.run(info.pid, info.pgid, info.startTime, instance.service, instance.version, process.pid);
    return true;
  }

  /** Forgets an instance that has exited (or is being stopped by this agent). */
  forget(pid: number | null): void {
    if (pid !== null && this.#db.open) this.#delete.run(pid);
  }

  records(): InstanceRecord[] {
    return this.#all.all();
  }

  /**
   * Stops every recorded instance that still runs as the same process (or
   * whose process group does), SIGTERM then SIGKILL after `stopMsOf(service)`,
   * and clears the records. Called at start, before any launch.
   */
  async reap(stopMsOf: (service: string) => number, log: Logger): Promise<ReapedInstance[]> {
    const reaped: ReapedInstance[] = [];
    await Promise.all(
      this.records().map(async (rec) => {
        const group = leftoverGroup(rec);
        if (group.length > 0) reaped.push(await stopGroup(rec, group, stopMsOf(rec.service)));
        this.#delete.run(rec.pid);
      }),
    );
    for (const r of reaped) {
      log.warn({ service: r.service, version: r.version, instance_pid: r.pid, pgid: r.pgid, processes: r.processes, killed: r.killed }, `reaped ${r.service}@v${r.version} (pid ${r.pid}, process group ${r.pgid}) left running by a previous agent: ${r.killed ? 'SIGKILL' : 'SIGTERM'}`);
    }
    return reaped;
  }
}

/**
 * The processes of a recorded instance that still run. The leader with its
 * recorded start time: its whole group. The leader gone: the members of its
 * group started no earlier, still carrying the recording agent's pid in
 * PROXYCTL_AGENT_PID (the kernel does not reuse a pid as a group id while
 * that group has members, and the environment rules out a new group that got
 * the same number after the old one emptied).
 */
function leftoverGroup(rec: InstanceRecord): ProcInfo[] {
  const leader = procInfo(rec.pid);
  if (leader) return leader.startTime === rec.start_time ? processGroup(rec.pgid) : [];
  return processGroup(rec.pgid).filter((p) => p.startTime >= rec.start_time && procEnv(p.pid, 'PROXYCTL_AGENT_PID') === String(rec.agent_pid));
}

function signal(processes: readonly ProcInfo[], sig: NodeJS.Signals): void {
  for (const p of processes) {
    try {
      process.kill(p.pid, sig);
    } catch {
      // gone already
    }
  }
}

async function stopGroup(rec: InstanceRecord, group: ProcInfo[], stopMs: number): Promise<ReapedInstance> {
  const running = () => group.filter((p) => procInfo(p.pid)?.startTime === p.startTime);
  signal(group, 'SIGTERM');
  const deadline = Date.now() + stopMs;
  while (running().length > 0 && Date.now() < deadline) await sleep(POLL_MS);
  const killed = running().length > 0;
  if (killed) {
    signal(running(), 'SIGKILL');
    while (running().length > 0 && Date.now() < deadline + 1000) await sleep(POLL_MS);
  }
  return { service: rec.service, version: rec.version, pid: rec.pid, pgid: rec.pgid, processes: group.map((p) => p.pid), killed };
}
