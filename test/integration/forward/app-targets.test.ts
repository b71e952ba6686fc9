import { afterEach, describe, expect, it } from 'vitest';
import { connectAndWaitClose, openEchoClient, roundTrip, startEchoServer } from '../../helpers/echo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import { closeForwards, ENGINES, startForward } from './harness.js';

/** The forward subsystem in-process, on real sockets, on each engine: the AppTargets API, target states, listeners, lifetimes, balancing. */

afterEach(async () => {
  await closeForwards();
  await closeTestServers();
});

describe.each(ENGINES)('%s engine', (engine) => {
  describe('AppTargets (forward → services)', () => {
    it('adds a target to an app with no static targets; new connections use it at once', async () => {
      const e = await startEchoServer();
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'notes', ports: [0] }] });
      const port = portOf('notes');
      expect(fwd.hasApp('notes')).toBe(true);
      expect(fwd.hasApp('nope')).toBe(false);
      fwd.addTarget('notes', e.address);
      fwd.addTarget('notes', e.address); // no-op
      expect((await roundTrip(port, 'hi')).toString()).toBe('hi');
      expect(fwd.app('notes').info().targets).toMatchObject([{ address: e.address, source: 'dynamic', health: 'up', total: 1 }]);
    });

    it('rejects an unknown app and a malformed address with stable codes', async () => {
      const { fwd } = await startForward(engine, { apps: [{ name: 'notes', ports: [0] }] });
      expect(() => fwd.addTarget('nope', '127.0.0.1:1')).toThrow(expect.objectContaining({ code: 'PXC_ERR_UNKNOWN_APP' }));
      expect(() => fwd.addTarget('notes', 'localhost')).toThrow(expect.objectContaining({ code: 'PXC_ERR_BAD_PARAMS' }));
    });

    it('removeTarget stops new connections at once and resolves when the last open one closes', async () => {
      const [e1, e2] = [await startEchoServer(), await startEchoServer()];
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'notes', ports: [0] }] });
      const port = portOf('notes');
      fwd.addTarget('notes', e1.address);
      const open = await openEchoClient(port);
      expect(await open.echo('a')).toBe('a');
      expect(fwd.connections('notes', e1.address)).toBe(1);
      fwd.addTarget('notes', e2.address);
      let resolved = false;
      const removal = fwd.removeTarget('notes', e1.address).then(() => (resolved = true));
      // New connections go to e2 only; the open one keeps flowing through e1.
      for (let i = 0; i < 3; i++) await roundTrip(port, 'n');
      expect(e2.connections).toBe(3);
      expect(await open.echo('still here')).toBe('still here');
      expect(resolved).toBe(false);
      open.close();
      await removal;
      expect(fwd.app('notes').info().targets.map((t) => t.address)).toEqual([e2.address]);
    });

    it('removeTarget with timeoutMs resolves without cutting the connection', async () => {
      const e = await startEchoServer();
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'notes', ports: [0] }] });
      const port = portOf('notes');
      fwd.addTarget('notes', e.address);
      const open = await openEchoClient(port);
      await open.echo('x');
      await fwd.removeTarget('notes', e.address, { timeoutMs: 50 });
      expect(await open.echo('after timeout')).toBe('after timeout');
      open.close();
    });

    it('keeps a target that is both static and dynamic when the service removes it', async () => {
      const e = await startEchoServer();
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address] }] });
      const port = portOf('web');
      fwd.addTarget('web', e.address);
      await fwd.removeTarget('web', e.address);
      expect(fwd.app('web').info().targets).toMatchObject([{ address: e.address, source: 'static' }]);
    });
  });

  describe('target drain / disable / enable', () => {
    it('a drained target takes no new connections while its open ones continue; enable brings it back', async () => {
      const [e1, e2] = [await startEchoServer(), await startEchoServer()];
      const { fwd, registry, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e1.address, e2.address] }] });
      const port = portOf('web');
      const open = await openEchoClient(port); // round-robin: e1
      await open.echo('x');
      expect(fwd.connections('web', e1.address)).toBe(1);
      await registry.invoke(registry.byMethod('target.drain')!, { app: 'web', target: e1.address }, { dialect: 'jsonrpc' });
      for (let i = 0; i < 4; i++) await roundTrip(port, 'n');
      expect(e1.connections).toBe(1);
      expect(e2.connections).toBe(4);
      expect(await open.echo('still flowing')).toBe('still flowing');
      expect(fwd.app('web').info().targets[0]).toMatchObject({ state: 'draining', health: 'unknown', active: 1 });
      fwd.setTargetState('web', e1.address, 'enabled');
      for (let i = 0; i < 4; i++) await roundTrip(port, 'n');
      expect(e1.connections).toBe(3);
      open.close();
    });

    it('disable stops new connections and health checks; unknown targets are errors', async () => {
      const [e1, e2] = [await startEchoServer(), await startEchoServer()];
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e1.address, e2.address], health: { interval: 0.02 } }] });
      const port = portOf('web');
      fwd.setTargetState('web', e1.address, 'disabled');
      const checks = e1.connections;
      for (let i = 0; i < 4; i++) await roundTrip(port, 'n');
      // Health checks connect to e2 too; only the proxied connections reached a client-visible echo.
      expect(fwd.app('web').info().targets[0]).toMatchObject({ state: 'disabled', health: 'unknown', total: 0 });
      await waitFor('more checks of e2', () => e2.connections > 8);
      expect(e1.connections).toBe(checks);
      expect(() => fwd.setTargetState('web', '127.0.0.1:1', 'disabled')).toThrow(expect.objectContaining({ code: 'PXC_ERR_UNKNOWN_TARGET' }));
      expect(() => fwd.setTargetState('nope', e1.address, 'disabled')).toThrow(expect.objectContaining({ code: 'PXC_ERR_UNKNOWN_APP' }));
    });
  });

  describe('listeners', () => {
    it('a port in use fails the start, naming the app and the port', async () => {
      const busy = await startEchoServer();
      const err = await startForward(engine, { apps: [{ name: 'clash', ports: [busy.port] }] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PXC_ERR_LISTEN', message: expect.stringContaining(`app clash: port ${busy.port} already in use`) });
    });

    it('with allowPartial, an app whose port is in use reports it and the other apps serve', async () => {
      const busy = await startEchoServer();
      const e = await startEchoServer();
      const { fwd, port } = await startForward(
        engine,
        {
          apps: [
            { name: 'clash', ports: [busy.port], targets: [e.address] },
            { name: 'ok', ports: [0], targets: [e.address] },
          ],
        },
        { allowPartial: true },
      );
      expect(fwd.app('clash').info().ports).toEqual([{ port: busy.port, bound_port: null, state: 'error', error: `app clash: port ${busy.port} already in use` }]);
      expect((await roundTrip(port('ok'), 'fine')).toString()).toBe('fine');
    });

    it('a reload retries a port that was in use, once it is free', async () => {
      const e = await startEchoServer();
      const blocker = await startEchoServer();
      const config = { apps: [{ name: 'web', ports: [blocker.port], targets: [e.address] }] };
      const { fwd, reload } = await startForward(engine, config, { allowPartial: true });
      expect(fwd.app('web').info().ports[0]!.state).toBe('error');
      await blocker.close();
      expect(await reload(config)).toEqual([]);
      expect(fwd.app('web').info().ports[0]).toEqual({ port: blocker.port, bound_port: blocker.port, state: 'listening', error: null });
      expect((await roundTrip(blocker.port, 'now')).toString()).toBe('now');
    });

    it('a reload to an address that cannot be bound keeps the old listener serving and names the failure', async () => {
      const e = await startEchoServer();
      const { fwd, port, reload } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address] }] });
      const p = port('web');
      const held = await openEchoClient(p);
      expect(await held.echo('before')).toBe('before');
      // A fixed port (the one port 0 gave), now on an address this host does not have.
      const problems = await reload({ apps: [{ name: 'web', ports: [p], bind: '192.0.2.1', targets: [e.address] }] });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toBe(`app web: cannot listen on 192.0.2.1:${p}: EADDRNOTAVAIL (still listening on 127.0.0.1:${p})`);
      expect((await roundTrip(p, 'still served')).toString()).toBe('still served');
      expect(await held.echo('after')).toBe('after');
      expect(fwd.app('web').info().ports[0]).toMatchObject({ port: p, bound_port: p, state: 'listening', error: problems[0] });
      held.close();
    });

    it('a port moved to another app by a reload keeps listening and serves the new app', async () => {
      const [e1, e2] = [await startEchoServer(), await startEchoServer({ greeting: 'two:' })];
      const { port, reload, info } = await startForward(engine, { apps: [{ name: 'one', ports: [0], targets: [e1.address] }] });
      const p = port('one');
      expect(await reload({ apps: [{ name: 'two', ports: [p], targets: [e2.address] }] })).toEqual([]);
      expect((await roundTrip(p, 'x')).toString()).toBe('two:x');
      expect(info('two').ports[0]).toMatchObject({ port: p, bound_port: p, state: 'listening' });
    });

    it('listens on port 0 and reports the bound port; a reload keeps it', async () => {
      const e = await startEchoServer();
      const { port, reload } = await startForward(engine, { apps: [{ name: 'web', ports: [0, 0], targets: [e.address] }] });
      const [p1, p2] = [port('web', 0), port('web', 1)];
      expect(p1).toBeGreaterThan(0);
      expect(p2).not.toBe(p1);
      expect((await roundTrip(p2, 'zero')).toString()).toBe('zero');
      await reload({ apps: [{ name: 'web', ports: [0, 0], targets: [e.address], balance: 'random' }] });
      expect([port('web', 0), port('web', 1)]).toEqual([p1, p2]);
    });
  });

  describe('connection lifetime', () => {
    it('lists the open connections with their target, state and bytes', async () => {
      const e = await startEchoServer();
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address] }] });
      const [a, b] = [await openEchoClient(portOf('web')), await openEchoClient(portOf('web'))];
      expect(await a.echo('12345')).toBe('12345');
      expect(await b.echo('x')).toBe('x');
      const rows = await waitFor('both listed with their bytes', async () => {
        const r = (await fwd.sessions('web', 10)).sessions;
        return r.length === 2 && r.reduce((n, c) => n + c.bytes_in, 0) === 6 ? r : null;
      });
      const ports = [a.socket.localPort, b.socket.localPort].sort();
      expect(rows.map((r) => Number(r.client.split(':').pop())).sort()).toEqual(ports);
      for (const r of rows) expect(r).toMatchObject({ target: e.address, state: 'open' });
      expect(await fwd.sessions('web', 1)).toMatchObject({ active: 2, sessions: [expect.anything()] });
      a.close();
      b.close();
    });

    it('closes a connection idle in both directions for idle_timeout, both sides', async () => {
      const e = await startEchoServer();
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address], idle_timeout: 0.2 }] });
      const port = portOf('web');
      const busy = await openEchoClient(port);
      const idle = await openEchoClient(port);
      await idle.echo('once');
      const closed = new Promise<void>((r) => idle.socket.once('close', () => r()));
      // The busy one keeps talking past the idle timeout and stays open.
      for (let i = 0; i < 6; i++) {
        expect(await busy.echo(`tick ${i}`)).toBe(`tick ${i}`);
        await new Promise((r) => setTimeout(r, 60));
      }
      await closed;
      await waitFor('target side closed too', () => e.open === 1);
      expect(fwd.app('web').info().active).toBe(1);
      busy.close();
    });

    it('relays a FIN the client sent before the target connection was up', async () => {
      const e = await startEchoServer();
      const { port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address] }] });
      const port = portOf('web');
      // Connect and half-close at once, with no data: the echo server must see the FIN and end.
      expect((await roundTrip(port, '')).length).toBe(0);
      await waitFor('echo side closed', () => e.open === 0);
    });
  });

  describe('balance modes on real connections', () => {
    it('least-conn sends new connections to the target with fewer open ones', async () => {
      const [e1, e2] = [await startEchoServer(), await startEchoServer()];
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e1.address, e2.address], balance: 'least-conn' }] });
      const port = portOf('web');
      const held = [await openEchoClient(port), await openEchoClient(port), await openEchoClient(port)];
      await Promise.all(held.map((c) => c.echo('x')));
      // 3 open: 2 on one target, 1 on the other; the next one goes to the less busy target.
      const counts = () => fwd.app('web').info().targets.map((t) => t.active);
      const before = counts();
      const lighter = before[0]! < before[1]! ? 0 : 1;
      const next = await openEchoClient(port);
      await next.echo('y');
      const after = counts();
      expect(after[lighter]! - before[lighter]!).toBe(1);
      for (const c of [...held, next]) c.close();
    });

    it('sharding keeps one client address on one target', async () => {
      const [e1, e2, e3] = [await startEchoServer(), await startEchoServer(), await startEchoServer()];
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e1.address, e2.address, e3.address], balance: 'sharding' }] });
      const port = portOf('web');
      for (let i = 0; i < 6; i++) await roundTrip(port, 's');
      expect(fwd.app('web').info().targets.map((t) => t.total).sort()).toEqual([0, 0, 6]);
    });

    it('refuses connections over max_connections and counts them', async () => {
      const e = await startEchoServer();
      const { fwd, port: portOf } = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address], max_connections: 2 }] });
      const port = portOf('web');
      const held = [await openEchoClient(port), await openEchoClient(port)];
      await Promise.all(held.map((c) => c.echo('x')));
      const third = await connectAndWaitClose(port);
      expect(third.data).toBe('');
      expect(fwd.app('web').info().rejected).toBe(1);
      held.forEach((c) => c.close());
    });
  });
});
