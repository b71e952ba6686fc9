import { afterEach, describe, expect, it } from 'vitest';
import { ProxyctlError } from '../../../src/errors.js';
import { closeControllers, FAKE, makeController, settle } from '../../helpers/controller.js';
import { waitFor } from '../../helpers/wait.js';

afterEach(closeControllers);

describe('DeploymentController', () => {
  it('gives the first deploy version 1 on a free port passed as --port and PORT, and adds it to the app', async () => {
    const { controller, targets, client } = makeController({ env: { FAKE_LABEL: 'one' } });
    expect(controller.state).toBe('INITIAL');
    const record = await settle(controller);
    expect(record).toMatchObject({ id: 1, version: 1, from_version: null, result: 'succeeded' });
    expect(record.phases.map((p) => p.state)).toEqual(['ROLLOUT_LAUNCH_NEW', 'READY']);
    const info = controller.info();
    expect(info.state).toBe('READY');
    expect(info.health).toBe('ok');
    expect(info.current).toMatchObject({ version: 1, role: 'current', state: 'ready' });
    expect([...targets.targets]).toEqual([info.current!.address]);
    const who = (await client.call('127.0.0.1', info.current!.port, '/rpc', 'Whoami', {}, 2000)) as { env_port: string; port: number; label: string };
    expect(who).toMatchObject({ env_port: String(info.current!.port), port: info.current!.port, label: 'one' });
    await waitFor('start line in the ring', () => controller.logs(10).some((l) => l.version === 1 && l.stream === 'stdout' && /listening/.test(l.line)));
  });

  it('rolls to current+1: both versions are targets during ROLLOUT_WAIT, then the previous is removed, gets SIGTERM and is forgotten', async () => {
    const { controller, targets } = makeController({ drain: 0.5 });
    await settle(controller);
    const v1 = controller.info().current!;
    controller.deploy();
    const during = await waitFor('ROLLOUT_WAIT', () => {
      const i = controller.info();
      return i.state === 'ROLLOUT_WAIT' ? i : null;
    });
    expect(during.current!.version).toBe(2);
    expect(during.previous!.version).toBe(1);
    expect(targets.targets).toEqual(new Set([v1.address, during.current!.address]));
    const record = (await controller.settled())!;
    expect(record.result).toBe('succeeded');
    expect(record.phases.map((p) => p.state)).toEqual(['ROLLOUT_LAUNCH_NEW', 'ROLLOUT_WAIT', 'READY']);
    expect(targets.events).toEqual([`add ${v1.address}`, `add ${during.current!.address}`, `remove ${v1.address}`]);
    expect([...targets.targets]).toEqual([during.current!.address]);
    expect(controller.logs(1000).some((l) => l.version === 1 && l.line === 'fake-service: got SIGTERM')).toBe(true);
    expect(() => process.kill(v1.pid!, 0)).toThrow();
    const after = controller.info();
    expect(after.previous).toBeNull();
    expect(after.current!.version).toBe(2);
  });

  it('refuses a deploy while one runs for the same service, at once', async () => {
    const { controller } = makeController({ drain: 5 });
    await settle(controller);
    controller.deploy();
    let err: unknown;
    try {
      controller.deploy();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxyctlError);
    expect((err as ProxyctlError).code).toBe('PXC_ERR_DEPLOY_IN_PROGRESS');
    expect((err as Error).message).toMatch(/deploy already in progress/);
  });

  it('stops a version that never gets ready and keeps the current one serving', async () => {
    const { controller, targets, config } = makeController();
    await settle(controller);
    const v1 = controller.info().current!;
    controller.updateConfig({ ...config, ready_attempts: 3, env: { FAKE_NEVER_READY: '1' } });
    controller.deploy();
    const v2 = await waitFor('v2 launching', () => controller.info().launching);
    const record = (await controller.settled())!;
    expect(record.result).toBe('failed');
    expect(record.version).toBe(2);
    expect(record.error).toMatch(/svc@v2 never became ready: 3 jsonrpc probes .* last: .+; svc@v1 keeps serving/);
    const info = controller.info();
    expect(info.state).toBe('READY');
    expect(info.current).toMatchObject({ version: 1, state: 'ready', pid: v1.pid });
    expect(info.launching).toBeNull();
    expect([...targets.targets]).toEqual([v1.address]);
    expect(info.last_deploy).toMatchObject({ id: 2, result: 'failed' });
    expect(() => process.kill(v2.pid!, 0)).toThrow();
  });

  it('fails a deploy fast when the new version exits before it is ready, naming the exit code', async () => {
    const { controller } = makeController({ env: { FAKE_EXIT_AT_START: '3' }, ready_interval: 1, ready_attempts: 30 });
    const started = Date.now();
    const record = await settle(controller);
    expect(record.result).toBe('failed');
    expect(record.error).toMatch(/exited \(exit code 3\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(controller.state).toBe('INITIAL');
    expect(controller.info().health).toBe('down');
  });

  it('reports an instance killed with SIGKILL: exit signal and time in info, service degraded, taken out of the app', async () => {
    const { controller, targets } = makeController({ restart: 'never' });
    await settle(controller);
    const v1 = controller.info().current!;
    process.kill(v1.pid!, 'SIGKILL');
    const info = await waitFor('exit reported', () => {
      const i = controller.info();
      return i.current?.exit ? i : null;
    });
    expect(info.current!.exit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(Date.parse(info.current!.exit!.at)).not.toBeNaN();
    expect(info.health).toBe('down');
    expect(info.degraded_reason).toMatch(/svc@v1 \(current\) exited on its own .*killed by SIGKILL/);
    await waitFor('target removed', () => !targets.targets.has(v1.address));
    // The next deploy replaces it without a drain and clears the report.
    const record = await settle(controller);
    expect(record.result).toBe('succeeded');
    expect(controller.info()).toMatchObject({ health: 'ok', degraded_reason: null, current: { version: 2 } });
  });

  it('keeps the previous version when the new one dies during ROLLOUT_WAIT, and records the deploy as failed', async () => {
    const { controller, targets } = makeController({ drain: 30 });
    await settle(controller);
    const v1 = controller.info().current!;
    controller.deploy();
    const v2 = await waitFor('ROLLOUT_WAIT', () => (controller.state === 'ROLLOUT_WAIT' ? controller.info().current : null));
    process.kill(v2.pid!, 'SIGKILL');
    const record = (await controller.settled())!;
    expect(record.result).toBe('failed');
    expect(record.error).toBe('svc@v2 exited during ROLLOUT_WAIT (killed by SIGKILL); svc@v1 keeps serving');
    expect(controller.info()).toMatchObject({ state: 'READY', health: 'ok', current: { version: 1, pid: v1.pid, state: 'ready' }, previous: null });
    expect([...targets.targets]).toEqual([v1.address]);
  });

  it('sends SIGKILL after stop_timeout to an instance that ignores SIGTERM', async () => {
    const { controller } = makeController({ env: { FAKE_IGNORE_TERM: '1' }, stop_timeout: 0.3, drain: 0 });
    await settle(controller);
    const v1 = controller.info().current!;
    const record = await settle(controller);
    expect(record.result).toBe('succeeded');
    expect(controller.logs(1000).some((l) => l.version === 1 && /ignoring it/.test(l.line))).toBe(true);
    expect(() => process.kill(v1.pid!, 0)).toThrow();
  });

  it('pulls ExportShardStats into per-instance requests and per-shard totals', async () => {
    const { controller, stats } = makeController();
    await settle(controller);
    await controller.pullStats();
    const info = controller.info();
    expect(info.current!.requests).not.toBeNull();
    expect(info.shards['shard-0']!.total).toBeGreaterThan(0);
    expect((stats.snapshot() as any).services.svc.shards['shard-0'].CreateNote_total).toBeGreaterThan(0);
  });

  it('keeps what a retired version served since the last pull in the shard totals (a last pull before SIGTERM)', async () => {
    const { controller, client } = makeController();
    await settle(controller);
    const v1 = controller.info().current!;
    await controller.pullStats();
    const before = controller.info().shards['shard-0']!.total;
    for (let i = 0; i < 5; i++) await client.call('127.0.0.1', v1.port, '/rpc', 'Whoami', {}, 2000);
    await settle(controller);
    expect(controller.info().current!.version).toBe(2);
    expect(controller.info().shards['shard-0']!.total).toBeGreaterThanOrEqual(before + 5);
  });

  it('stops asking an instance that does not offer ExportShardStats', async () => {
    const { controller } = makeController({ env: { FAKE_NO_STATS: '1' } });
    await settle(controller);
    await controller.pullStats();
    await controller.pullStats();
    expect(controller.info().current!.requests).toBeNull();
    expect(controller.info().shards).toEqual({});
  });

  it('refuses a deploy at once when the app is not running', async () => {
    const { controller, targets } = makeController();
    targets.hasApp = () => false;
    expect(() => controller.deploy()).toThrow(expect.objectContaining({ code: 'PXC_ERR_UNKNOWN_APP' }));
  });

  it('fails the deploy and stops the new instance when the app refuses the target', async () => {
    const { controller, targets } = makeController();
    targets.addTarget = () => {
      throw new Error('app is closing');
    };
    const record = await settle(controller);
    expect(record).toMatchObject({ result: 'failed', error: 'internal error: app is closing' });
    expect(controller.info().launching).toBeNull();
    await waitFor('v1 got SIGTERM', () => controller.logs(100).some((l) => l.line === 'fake-service: got SIGTERM'));
  });

  it('close() stops every instance, a deploy in ROLLOUT_WAIT included', async () => {
    const { controller } = makeController({ drain: 30 });
    await settle(controller);
    controller.deploy();
    const i = await waitFor('ROLLOUT_WAIT', () => (controller.state === 'ROLLOUT_WAIT' ? controller.info() : null));
    await controller.close();
    for (const pid of [i.current!.pid!, i.previous!.pid!]) expect(() => process.kill(pid, 0)).toThrow();
    expect(() => controller.deploy()).toThrow(/shutting down/);
  });

  it('stops the whole process group of an instance, so a wrapper script leaves no child behind', async () => {
    const { controller, client } = makeController({ command: ['sh', '-c', '"$0" "$@" & wait', process.execPath, FAKE], drain: 0 });
    await settle(controller);
    const v1 = controller.info().current!;
    const who = (await client.call('127.0.0.1', v1.port, '/rpc', 'Whoami', {}, 2000)) as { pid: number };
    expect(who.pid).not.toBe(v1.pid);
    expect((await settle(controller)).result).toBe('succeeded');
    await waitFor('the wrapped child is gone', () => {
      try {
        process.kill(who.pid, 0);
        return false;
      } catch {
        return true;
      }
    });
  });

  it('fails a deploy whose cwd does not exist, naming it', async () => {
    const { controller } = makeController({ cwd: '/nonexistent/dir' });
    const record = await settle(controller);
    expect(record.error).toBe('cannot launch svc@v1: cwd /nonexistent/dir is not a directory; nothing is serving');
  });

  it('expands {node} and {state_dir} in the command and runs in cwd', async () => {
    const { controller, client } = makeController({ command: ['{node}', FAKE], cwd: '{state_dir}' });
    await settle(controller);
    const who = (await client.call('127.0.0.1', controller.info().current!.port, '/rpc', 'Whoami', {}, 2000)) as { cwd: string };
    expect(who.cwd).toBe('/tmp');
  });
});
