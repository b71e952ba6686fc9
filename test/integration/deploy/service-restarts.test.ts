import { afterEach, describe, expect, it } from 'vitest';
import { alive, closeControllers, makeController, settle } from '../../helpers/controller.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Crashed instances (real kill -9 of real processes) and the restart policy,
 * with the controller in this process.
 */

afterEach(closeControllers);

describe('restarts of crashed instances', () => {
  it('restarts an instance killed with SIGKILL after a backoff that doubles, counts it, and puts it back in the app only once ready', async () => {
    const { controller, targets, events } = makeController({ restart_delay: 0.1 });
    await settle(controller);
    const first = controller.info().current!;
    process.kill(first.pid!, 'SIGKILL');
    const second = await waitFor('restarted', () => {
      const c = controller.info().current;
      return c && c.pid !== first.pid && c.state === 'ready' ? c : null;
    });
    expect(targets.targets.has(first.address)).toBe(false);
    process.kill(second.pid!, 'SIGKILL');
    const third = await waitFor('restarted again', () => {
      const c = controller.info().current;
      return c && c.pid !== second.pid && c.state === 'ready' ? c : null;
    });
    const info = controller.info();
    expect(info).toMatchObject({ health: 'ok', restarts: 2, version: 1, degraded_reason: null });
    expect(third).toMatchObject({ version: 1, instance: 0, restarts: 2, next_restart_at: null, gave_up: false });
    // Out of the app at the exit, back once the readiness probe passed.
    expect(targets.events).toEqual([`add ${first.address}`, `remove ${first.address}`, `add ${second.address}`, `remove ${second.address}`, `add ${third.address}`]);
    for (const i of [second, third]) expect(Date.parse(i.ready_at!)).toBeLessThanOrEqual(targets.addedAt.get(i.address)!);
    const exits = events.filter((e) => e.topic === 'service.exit');
    expect(exits.map((e) => [e.signal, e.action, e.delay_ms])).toEqual([
      ['SIGKILL', 'restart', 100],
      ['SIGKILL', 'restart', 200],
    ]);
    expect(events.filter((e) => e.topic === 'service.restart').map((e) => [e.pid, e.restarts])).toEqual([
      [second.pid, 1],
      [third.pid, 2],
    ]);
  });

  it('leaves an instance down with restart: never, and says so', async () => {
    const { controller, events } = makeController({ restart: 'never' });
    await settle(controller);
    const v1 = controller.info().current!;
    process.kill(v1.pid!, 'SIGKILL');
    await waitFor('exit seen', () => events.some((e) => e.topic === 'service.exit'));
    const info = controller.info();
    expect(info).toMatchObject({ health: 'down', restarts: 0, current: { pid: v1.pid, state: 'exited', next_restart_at: null } });
    expect(info.degraded_reason).toMatch(/svc@v1 \(current\) exited on its own .*killed by SIGKILL\); restart: never leaves it down/);
    expect(events.find((e) => e.topic === 'service.exit')).toMatchObject({ action: 'none', delay_ms: null });
    expect(events.find((e) => e.topic === 'service.health' && e.health === 'down')).toBeTruthy();
    expect(events.some((e) => e.topic === 'service.restart')).toBe(false);
  });

  it('restarts on a clean exit only with restart: always (on-failure takes exit code 0 as done)', async () => {
    const { controller, events } = makeController({ restart: 'on-failure' });
    await settle(controller);
    process.kill(controller.info().current!.pid!, 'SIGTERM'); // the fake service exits 0 on SIGTERM
    const exit = await waitFor('exit', () => events.find((e) => e.topic === 'service.exit'));
    expect(exit).toMatchObject({ code: 0, signal: null, action: 'none' });

    const always = makeController({ restart: 'always' });
    await settle(always.controller);
    const pid = always.controller.info().current!.pid!;
    process.kill(pid, 'SIGTERM');
    await waitFor('restarted after exit 0', () => always.events.some((e) => e.topic === 'service.restart'));
    expect(always.events.find((e) => e.topic === 'service.exit')).toMatchObject({ code: 0, action: 'restart' });
  });

  it('gives up after max_restarts in a row: the instance stays down, the service is degraded, an event says so; service start brings it back', async () => {
    const { controller, events } = makeController({ instances: 2, max_restarts: 1, restart_delay: 0.05 });
    await settle(controller);
    const slot1 = () => controller.info().instances.find((i) => i.instance === 1)!;
    const a = slot1();
    process.kill(a.pid!, 'SIGKILL');
    const b = await waitFor('restarted once', () => (slot1().pid !== a.pid && slot1().state === 'ready' ? slot1() : null));
    process.kill(b.pid!, 'SIGKILL');
    const gaveUp = await waitFor('gave up', () => events.find((e) => e.topic === 'service.exit' && e.action === 'gave_up'));
    expect(gaveUp).toMatchObject({ service: 'svc', instance: 1, restarts: 1, delay_ms: null });
    const info = controller.info();
    expect(info).toMatchObject({ health: 'degraded', ready: 1, scale: 2 });
    expect(slot1()).toMatchObject({ state: 'exited', gave_up: true, next_restart_at: null });
    expect(info.degraded_reason).toMatch(/svc@v1#1 \(current\) exited on its own .*; left down after 1 restart in a row \(max_restarts\)/);
    expect(events.filter((e) => e.topic === 'service.health').at(-1)).toMatchObject({ health: 'degraded' });
    // Slot 0 kept serving all along.
    expect(controller.info().instances.find((i) => i.instance === 0)!.state).toBe('ready');

    const started = await settle(controller, (c) => c.start());
    expect(started).toMatchObject({ kind: 'start', result: 'succeeded', version: 1 });
    expect(controller.info()).toMatchObject({ health: 'ok', ready: 2 });
    expect(slot1()).toMatchObject({ state: 'ready', gave_up: false, restarts: 0 });
  });

  it('never restarts an instance being retired: a previous version killed during ROLLOUT_WAIT stays gone, a stopped service stays stopped', async () => {
    const { controller, events, config } = makeController({ drain: 30 });
    await settle(controller);
    controller.updateConfig({ ...config, drain: 0.5 });
    controller.deploy();
    const v1 = await waitFor('ROLLOUT_WAIT', () => (controller.state === 'ROLLOUT_WAIT' ? controller.info().previous : null));
    process.kill(v1.pid!, 'SIGKILL');
    const record = (await controller.settled())!;
    expect(record.result).toBe('succeeded');
    expect(events.find((e) => e.topic === 'service.exit')).toMatchObject({ version: 1, action: 'none' });
    expect(events.some((e) => e.topic === 'service.restart')).toBe(false);
    expect(controller.info().instances.map((i) => i.version)).toEqual([2]);

    const v2 = controller.info().current!;
    const stopped = await settle(controller, (c) => c.stop());
    expect(stopped).toMatchObject({ kind: 'stop', result: 'succeeded' });
    expect(alive(v2.pid!)).toBe(false);
    expect(controller.info()).toMatchObject({ state: 'STOPPED', health: 'down', instances: [] });
    expect(events.filter((e) => e.topic === 'service.exit')).toHaveLength(1);
  });

  it('a restart waits while an operation runs, and a deploy replaces a crashed instance without restarting it', async () => {
    // restart_delay 1 s: the deploy below starts well before the decided restart is due.
    const { controller, events } = makeController({ restart_delay: 1 });
    await settle(controller);
    const v1 = controller.info().current!;
    process.kill(v1.pid!, 'SIGKILL');
    await waitFor('exit seen', () => events.some((e) => e.topic === 'service.exit'));
    // A restart was decided and is pending: what the deploy must take over.
    expect(events.find((e) => e.topic === 'service.exit')).toMatchObject({ action: 'restart', delay_ms: 1000 });
    const due = controller.info().instances.find((i) => i.version === 1)?.next_restart_at;
    expect(due).toEqual(expect.any(String));
    const record = await settle(controller);
    expect(record).toMatchObject({ result: 'succeeded', version: 2 });
    // The deploy took the slot: no phase waited on the dead instance, and no restart is pending any more.
    expect(record.phases.map((p) => p.state)).toEqual(['ROLLOUT_LAUNCH_NEW', 'READY']);
    expect(controller.info().instances.map((i) => [i.version, i.next_restart_at])).toEqual([[2, null]]);
    // Past the time v1's restart was due (timers fire in deadline order: one set after it runs after it), nothing restarted it.
    await waitFor('the restart time passed', () => Date.now() > Date.parse(due!));
    await new Promise((r) => setTimeout(r, 1));
    expect(events.some((e) => e.topic === 'service.restart')).toBe(false);
    expect(controller.info()).toMatchObject({ health: 'ok', version: 2, instances: [{ version: 2, state: 'ready' }] });
  });
});
