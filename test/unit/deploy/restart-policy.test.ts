import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HISTORY_DEPLOYS, ServiceHistory } from '../../../src/deploy/history.js';
import type { DeployRecord } from '../../../src/deploy/records.js';
import { decideRestart, policyRestarts, restartDelayMs, STABLE_AFTER_MS } from '../../../src/deploy/restart-policy.js';

const crash = { code: null, signal: 'SIGKILL', error: null };
const clean = { code: 0, signal: null, error: null };
const cfg = { restart: 'on-failure' as const, max_restarts: 3, restart_delay: 0.1 };

describe('the restart policy', () => {
  it('reads on-failure as systemd does: a signal, a non-zero code or a start failure restarts, exit 0 does not', () => {
    expect(policyRestarts('on-failure', crash)).toBe(true);
    expect(policyRestarts('on-failure', { code: 3, signal: null, error: null })).toBe(true);
    expect(policyRestarts('on-failure', { code: null, signal: null, error: 'never became ready' })).toBe(true);
    expect(policyRestarts('on-failure', clean)).toBe(false);
    expect(policyRestarts('always', clean)).toBe(true);
    expect(policyRestarts('never', crash)).toBe(false);
  });

  it('doubles the delay for each restart in a row, up to 15 s (or restart_delay when longer)', () => {
    expect([1, 2, 3, 4, 8, 20].map((n) => restartDelayMs(0.1, n))).toEqual([100, 200, 400, 800, 12_800, 15_000]);
    expect(restartDelayMs(0, 5)).toBe(0);
    expect(restartDelayMs(20, 3)).toBe(20_000);
  });

  it('gives up after max_restarts in a row, and starts counting again after 30 s of running', () => {
    expect(decideRestart(cfg, crash, 0, 500)).toEqual({ restart: true, delayMs: 100, streak: 1 });
    expect(decideRestart(cfg, crash, 2, 500)).toEqual({ restart: true, delayMs: 400, streak: 3 });
    expect(decideRestart(cfg, crash, 3, 500)).toEqual({ restart: false, why: 'gave_up', streak: 3 });
    expect(decideRestart(cfg, crash, 3, null)).toMatchObject({ restart: false, why: 'gave_up' });
    expect(decideRestart(cfg, crash, 3, STABLE_AFTER_MS)).toEqual({ restart: true, delayMs: 100, streak: 1 });
    expect(decideRestart({ ...cfg, max_restarts: 0 }, crash, 0, null)).toMatchObject({ restart: false, why: 'gave_up' });
    expect(decideRestart(cfg, clean, 0, 500)).toEqual({ restart: false, why: 'policy', streak: 0 });
  });
});

describe('the service history in state.db', () => {
  const record = (id: number, over: Partial<DeployRecord> = {}): DeployRecord => ({ id, service: 's', kind: 'deploy', version: id, from_version: id - 1 || null, instances: 1, result: 'succeeded', phases: [], started_at: '', finished_at: '', error: null, ...over });

  it('keeps the newest operations per service, updated in place, and the run state', () => {
    const h = new ServiceHistory(new Database(':memory:'));
    for (let id = 1; id <= HISTORY_DEPLOYS + 40; id++) h.saveDeploy(record(id, { result: 'running' }));
    h.saveDeploy(record(HISTORY_DEPLOYS + 40));
    h.saveDeploy({ ...record(1), service: 'other' });
    const kept = h.deploys('s');
    expect(kept.length).toBeGreaterThanOrEqual(HISTORY_DEPLOYS);
    expect(kept.length).toBeLessThan(HISTORY_DEPLOYS + 16);
    expect(kept.at(-1)).toMatchObject({ id: HISTORY_DEPLOYS + 40, result: 'succeeded' });
    expect(h.deploys('s', 3).map((d) => d.id)).toEqual([HISTORY_DEPLOYS + 38, HISTORY_DEPLOYS + 39, HISTORY_DEPLOYS + 40]);
    expect(h.lastDeployId('s')).toBe(HISTORY_DEPLOYS + 40);
    expect(h.deploys('other')).toHaveLength(1);
    expect(h.state('s')).toEqual({ version: null, previous_version: null, scale: null, config_instances: null, stopped: false });
    h.saveState('s', { version: 4, previous_version: 2, scale: 3, config_instances: 1, stopped: true });
    expect(h.state('s')).toEqual({ version: 4, previous_version: 2, scale: 3, config_instances: 1, stopped: true });
  });

  it('prunes old releases but never the current or previous one', () => {
    const h = new ServiceHistory(new Database(':memory:'));
    const rel = (version: number) => ({ version, command: ['x'], env: {}, cwd: null, created_at: '', source: 'config' as const, rollback_of: null });
    for (let v = 1; v <= 60; v++) h.addRelease('s', rel(v), [v === 60 ? 59 : null, 2]);
    const versions = h.releases('s').map((r) => r.version);
    expect(versions).toContain(2);
    expect(versions).toContain(60);
    expect(versions).not.toContain(1);
    expect(h.lastVersion('s')).toBe(60);
    expect(h.release('s', 2)).toMatchObject({ version: 2 });
  });
});
