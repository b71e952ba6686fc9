import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ServiceHistory } from '../../../src/deploy/history.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { alive, closeControllers, makeController, settle } from '../../helpers/controller.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Releases, rollback, history and scale, with the controller in this process
 * on real instances (test/helpers/fake-service.mjs) and a real state.db.
 */

afterEach(async () => {
  await closeControllers();
  await cleanupAgents();
});

const label = async (t: ReturnType<typeof makeController>, port: number) => ((await t.client.call('127.0.0.1', port, '/rpc', 'Whoami', {}, 2000)) as { label: string }).label;

describe('rollback and history', () => {
  it("rolls back to the previous version's command and env as a new version, and back again", async () => {
    const t = makeController({ env: { FAKE_LABEL: 'one' }, drain: 0 });
    await settle(t.controller);
    t.controller.updateConfig({ ...t.config, env: { FAKE_LABEL: 'two' } });
    expect((await settle(t.controller)).version).toBe(2);
    expect(await label(t, t.controller.info().current!.port)).toBe('two');

    const back = await settle(t.controller, (c) => c.rollback());
    expect(back).toMatchObject({ kind: 'rollback', version: 3, from_version: 2, result: 'succeeded' });
    expect(await label(t, t.controller.info().current!.port)).toBe('one');
    expect(t.controller.info()).toMatchObject({ version: 3, previous_version: 2, config_changed: true });

    // Again: back to v2's command, as `cd -`.
    expect(await settle(t.controller, (c) => c.rollback())).toMatchObject({ version: 4, from_version: 3 });
    expect(await label(t, t.controller.info().current!.port)).toBe('two');

    const h = t.controller.history();
    expect(h.releases.map((r) => [r.version, r.source, r.rollback_of, r.env.FAKE_LABEL])).toEqual([
      [1, 'config', null, 'one'],
      [2, 'config', null, 'two'],
      [3, 'rollback', 1, 'one'],
      [4, 'rollback', 2, 'two'],
    ]);
    expect(h.deploys.map((d) => [d.id, d.kind, d.from_version, d.version, d.result])).toEqual([
      [1, 'deploy', null, 1, 'succeeded'],
      [2, 'deploy', 1, 2, 'succeeded'],
      [3, 'rollback', 2, 3, 'succeeded'],
      [4, 'rollback', 3, 4, 'succeeded'],
    ]);
  });

  it('refuses a rollback with nothing to go back to, naming why', async () => {
    const t = makeController();
    expect(() => t.controller.rollback()).toThrow(/svc: no earlier version to roll back to \(never deployed\)/);
    await settle(t.controller);
    expect(() => t.controller.rollback()).toThrow(/no earlier version to roll back to \(v1 is the only one\)/);
    expect(() => t.controller.rollback(7)).toThrow(/no release v7 in its history/);
  });

  it('keeps releases, operations and the serving version across a restart of the agent: the same version comes back, the next deploy goes on from there', async () => {
    const db = join(tempDir('pxc-hist-'), 'state.db');
    const a = makeController({ env: { FAKE_LABEL: 'one' }, drain: 0 }, db);
    await settle(a.controller);
    a.controller.updateConfig({ ...a.config, env: { FAKE_LABEL: 'two' } });
    await settle(a.controller);
    const before = a.controller.history();
    await closeControllers();

    // The config says "three" now: the agent still brings back v2 ("two"), and says the config differs.
    const b = makeController({ env: { FAKE_LABEL: 'three' }, drain: 0 }, db);
    expect(b.controller.state).toBe('INITIAL');
    const start = await settle(b.controller, (c) => c.start());
    expect(start).toMatchObject({ id: 3, kind: 'start', version: 2, result: 'succeeded' });
    expect(await label(b, b.controller.info().current!.port)).toBe('two');
    expect(b.controller.info()).toMatchObject({ version: 2, previous_version: 1, config_changed: true });
    const after = b.controller.history();
    expect(after.releases).toEqual(before.releases);
    expect(after.deploys.slice(0, 2)).toEqual(before.deploys);
    expect((await settle(b.controller)).version).toBe(3);
    expect(await label(b, b.controller.info().current!.port)).toBe('three');
    expect((await settle(b.controller, (c) => c.rollback())).version).toBe(4);
    expect(await label(b, b.controller.info().current!.port)).toBe('two');
  });

  it('records an operation a killed agent did not finish as failed, saying so', async () => {
    const db = join(tempDir('pxc-hist-'), 'state.db');
    const raw = new Database(db);
    new ServiceHistory(raw).saveDeploy({ id: 1, service: 'svc', kind: 'deploy', version: 1, from_version: null, instances: 1, result: 'running', phases: [{ state: 'ROLLOUT_LAUNCH_NEW', at: '2026-01-02T03:04:05.000Z' }], started_at: '2026-01-02T03:04:04.000Z', finished_at: null, error: null });
    raw.close();
    const t = makeController({}, db);
    expect(t.controller.info().deploys).toEqual([expect.objectContaining({ id: 1, result: 'failed', error: 'the agent stopped during it', finished_at: '2026-01-02T03:04:05.000Z' })]);
    expect((await settle(t.controller, (c) => c.start())).id).toBe(2);
  });

  it('keeps a stopped service stopped across a restart of the agent, and its scale', async () => {
    const db = join(tempDir('pxc-hist-'), 'state.db');
    const a = makeController({}, db);
    await settle(a.controller);
    await settle(a.controller, (c) => c.scale(2));
    await settle(a.controller, (c) => c.stop());
    await closeControllers();
    const b = makeController({}, db);
    expect(b.controller.info()).toMatchObject({ state: 'STOPPED', scale: 2, version: 1 });
    await settle(b.controller, (c) => c.start());
    expect(b.controller.info()).toMatchObject({ state: 'READY', ready: 2, version: 1 });
  });
});

describe('scale and max_surge', () => {
  it('scales up and down: new instances join the app once ready, extra ones are taken out and stopped', async () => {
    const t = makeController();
    await settle(t.controller);
    const up = await settle(t.controller, (c) => c.scale(3));
    expect(up).toMatchObject({ kind: 'scale', instances: 3, result: 'succeeded' });
    expect(up.phases.map((p) => p.state)).toEqual(['SCALING', 'READY']);
    const three = t.controller.info().instances;
    expect(three.map((i) => [i.instance, i.version, i.state])).toEqual([
      [0, 1, 'ready'],
      [1, 1, 'ready'],
      [2, 1, 'ready'],
    ]);
    expect(t.targets.targets).toEqual(new Set(three.map((i) => i.address)));
    expect(t.events.filter((e) => e.topic === 'service.scale').map((e) => [e.from, e.to])).toEqual([[1, 3]]);

    await settle(t.controller, (c) => c.scale(1));
    expect(t.controller.info()).toMatchObject({ scale: 1, ready: 1, health: 'ok', instances: [{ instance: 0, pid: three[0]!.pid }] });
    expect(t.targets.targets).toEqual(new Set([three[0]!.address]));
    await waitFor('extra instances stopped', () => !alive(three[1]!.pid!) && !alive(three[2]!.pid!));
  });

  it('keeps a run-time scale across a restart of the agent until the config\'s instances changes, then follows the config', async () => {
    const db = join(tempDir('pxc-scale-'), 'state.db');
    const a = makeController({}, db);
    await settle(a.controller);
    await settle(a.controller, (c) => c.scale(3));
    await closeControllers();
    const b = makeController({}, db);
    expect(b.controller.info().scale).toBe(3);
    await settle(b.controller, (c) => c.start());
    expect(b.controller.info()).toMatchObject({ ready: 3, health: 'ok' });
    b.controller.updateConfig({ ...b.config, instances: 2 });
    await waitFor('scaled to the config', () => b.controller.info().ready === 2 && b.controller.info().scale === 2 && b.controller.state === 'READY');
    expect(b.events.filter((e) => e.topic === 'service.scale').map((e) => [e.from, e.to])).toEqual([[3, 2]]);
  });

  it('rolls a deploy over every instance in batches of max_surge, each batch ready before the old ones it replaces go', async () => {
    const t = makeController({ instances: 3, max_surge: 2, drain: 0.1 });
    await settle(t.controller);
    const v1 = t.controller.info().instances;
    expect(v1).toHaveLength(3);
    const record = await settle(t.controller);
    expect(record.result).toBe('succeeded');
    expect(record.phases.map((p) => `${p.state}${p.batch ? ` ${p.batch}` : ''}`)).toEqual(['ROLLOUT_LAUNCH_NEW 1/2', 'ROLLOUT_WAIT 1/2', 'ROLLOUT_LAUNCH_NEW 2/2', 'ROLLOUT_WAIT 2/2', 'READY']);
    const v2 = t.controller.info().instances;
    expect(v2.map((i) => [i.instance, i.version])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    // Never fewer than 3 targets: every removal of a v1 instance came after the add of the v2 one replacing it.
    let count = 0;
    let least = Infinity;
    for (const e of t.targets.events) {
      count += e.startsWith('add') ? 1 : -1;
      if (t.targets.events.indexOf(e) >= 3) least = Math.min(least, count);
    }
    expect(least).toBeGreaterThanOrEqual(3);
    for (const i of v1) expect(alive(i.pid!)).toBe(false);
  });

  it('puts the old version back on every instance when a later batch never gets ready', async () => {
    const t = makeController({ instances: 2, max_surge: 1, drain: 0, env: { FAKE_LABEL: 'one' } });
    await settle(t.controller);
    t.controller.updateConfig({ ...t.config, env: { FAKE_LABEL: 'two' } });
    t.controller.deploy();
    await waitFor('batch 2 launching', () => t.controller.info().deploys.at(-1)!.phases.some((p) => p.batch === '2/2'));
    // Kill batch 2's instance as it starts: it never becomes ready.
    const launching = await waitFor('batch 2 instance', () => t.controller.info().launching);
    process.kill(launching.pid!, 'SIGKILL');
    const record = (await t.controller.settled())!;
    expect(record.result).toBe('failed');
    expect(record.error).toMatch(/svc@v2#1 never became ready: it exited \(killed by SIGKILL\)/);
    const info = t.controller.info();
    expect(info).toMatchObject({ version: 1, health: 'ok', ready: 2, state: 'READY' });
    expect(info.instances.map((i) => i.version)).toEqual([1, 1]);
    for (const i of info.instances) expect(await label(t, i.port)).toBe('one');
  });
});

describe('service stats', () => {
  it('counts wanted and ready instances and restarts beside the per-instance request stats', async () => {
    const t = makeController({ instances: 2, restart_delay: 0 });
    await settle(t.controller);
    process.kill(t.controller.info().current!.pid!, 'SIGKILL');
    await waitFor('restarted', () => t.controller.info().restarts === 1 && t.controller.info().ready === 2);
    await t.controller.pullStats();
    const snap = t.stats.snapshot() as any;
    expect(snap.services.svc).toMatchObject({ instances_wanted: 2, instances_ready: 2, restarts: 1, current_version: 1, health: 'ok' });
    expect(Object.keys(snap.services.svc.instances).sort()).toEqual(['v1', 'v1#1']);
  });
});
