import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { InstanceLedger } from '../../../src/deploy/leftovers.js';
import { procInfo } from '../../../src/deploy/proc.js';
import { openDatabase, type SqliteDatabase } from '../../../src/state/state-db.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';

/** The record of running instances and the reaping of a crashed agent's leftovers, on real processes. */

const log = pino({ level: 'silent' });
const children: ChildProcess[] = [];
const dbs: SqliteDatabase[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const db of dbs.splice(0)) db.close();
  await cleanupAgents();
});

function ledger(): InstanceLedger {
  const db = openDatabase(join(tempDir(), 'state.db'));
  dbs.push(db);
  return new InstanceLedger(db);
}

/** A process group like an instance's: `sh` (the leader) with a child `sleep`, both carrying PROXYCTL_AGENT_PID. */
function group(script: string, agentPid = process.pid, stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const c = spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', stdout, 'ignore'], env: { ...process.env, PROXYCTL_AGENT_PID: String(agentPid) } });
  children.push(c);
  return c;
}

const alive = (pid: number) => procInfo(pid) !== null;

describe('InstanceLedger', () => {
  it('stops a recorded instance and every process of its group that still run, and clears the record', async () => {
    const l = ledger();
    const c = group('sleep 30 & wait');
    const leader = c.pid!;
    expect(l.record({ pid: leader, service: 'web', version: 2 })).toBe(true);
    await waitFor('the group has its child', () => procInfo(leader) !== null && l.records().length === 1);
    const reaped = await l.reap(() => 2000, log);
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ service: 'web', version: 2, pid: leader, pgid: leader, killed: false });
    expect(alive(leader)).toBe(false);
    expect(l.records()).toEqual([]);
  });

  it('SIGKILLs a leftover that ignores SIGTERM once its stop timeout is over', async () => {
    const l = ledger();
    const c = group("trap '' TERM; echo trapped; while :; do sleep 0.05; done", process.pid, 'pipe');
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('SIGTERM ignored by the shell', () => out.includes('trapped'));
    l.record({ pid: c.pid!, service: 'stubborn', version: 1 });
    const [r] = await l.reap(() => 300, log);
    expect(r).toMatchObject({ killed: true });
    expect(alive(c.pid!)).toBe(false);
  });

  it('leaves a process alone whose pid was recorded with another start time (a reused pid)', async () => {
    const l = ledger();
    const c = group('sleep 30');
    await waitFor('running', () => alive(c.pid!));
    l.record({ pid: c.pid!, service: 'web', version: 1 });
    const db = dbs[0]!;
    db.prepare('UPDATE deploy_instances SET start_time = start_time - 1').run();
    expect(await l.reap(() => 1000, log)).toEqual([]);
    expect(alive(c.pid!)).toBe(true);
    expect(l.records()).toEqual([]);
  });

  it('finds the rest of a group whose leader is gone by its group and the recording agent in its environment', async () => {
    const l = ledger();
    // The leader starts a sleeper in its group and exits: the group lives on without it.
    const c = group('sleep 30 & sleep 0.3');
    const leader = c.pid!;
    expect(l.record({ pid: leader, service: 'web', version: 1 })).toBe(true);
    await waitFor('the leader gone', () => !alive(leader));
    const [r] = await l.reap(() => 1000, log);
    expect(r?.processes).toHaveLength(1);
    expect(alive(r!.processes[0]!)).toBe(false);
  });

  it('forgets an instance that exited, and records nothing for one that is already gone', () => {
    const l = ledger();
    l.record({ pid: process.pid, service: 'self', version: 1 });
    expect(l.records().map((r) => r.pid)).toEqual([process.pid]);
    l.forget(process.pid);
    expect(l.records()).toEqual([]);
    expect(l.record({ pid: null, service: 'x', version: 1 })).toBe(false);
  });
});
