import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppInfo } from '../../../src/forward/app.js';
import type { AppReset, AppSessions, AppStats, TargetChange } from '../../../src/forward/commands.js';
import { StateStore } from '../../../src/state/state-db.js';
import { HAPROXY_STAT_FIELDS } from '../../../src/forward/stat-rows.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort, openEchoClient, roundTrip, startEchoServer, type EchoClient } from '../../helpers/echo-server.js';
import { closeTestServers } from '../../helpers/servers.js';
import { waitFor } from '../../helpers/wait.js';
import { closeForwards, ENGINES, startForward, type InProcessForward } from './harness.js';

/**
 * HAProxy runtime-API parity, in-process on real sockets, on each engine:
 * target add / remove / weight (weights honoured by the balancer, 0 drains),
 * their persistence in the state DB until app reset, app sessions, app stats
 * in HAProxy's CSV, and `unknown` health until the first check.
 */

const cleanups: (() => void)[] = [];
afterEach(async () => {
  await closeForwards();
  await closeInProcessAgents();
  await cleanupAgents();
  await closeTestServers();
  for (const c of cleanups.splice(0)) c();
});

/** A control command through the registry, as the socket runs it (talk or JSON-RPC). */
async function call<T>(f: InProcessForward, method: string, params: object): Promise<T> {
  return (await f.registry.invoke(f.registry.byMethod(method)!, params, { dialect: 'jsonrpc' })) as T;
}

/** A talk line's reply text, as the socket would send it. */
async function talk(f: InProcessForward, line: string): Promise<string> {
  const m = f.registry.matchTalk(line)!;
  const r = await f.registry.invoke(m.command, f.registry.talkParams(m.command, m.args, m.rest), { dialect: 'talk' });
  return f.registry.renderText(m.command, r);
}

/** `n` echo round trips through `port`, `concurrency` at a time. */
async function connections(port: number, n: number, concurrency = 50): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        expect((await roundTrip(port, 'w')).toString()).toBe('w');
      }
    }),
  );
}

const totals = (f: InProcessForward, app = 'web') => Object.fromEntries(f.info(app).targets.map((t) => [t.address, t.total]));

function tempState(): StateStore {
  const dir = mkdtempSync(join(tmpdir(), 'pxc-state-'));
  const store = new StateStore(join(dir, 'state.db'));
  cleanups.push(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

describe.each(ENGINES)('%s engine', (engine) => {
  describe('weights', () => {
    it('round-robin splits 3 000 connections 3:1 by weight (2 250 / 750), the config’s weight and target weight alike', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [{ address: a.address, weight: 3 }, b.address], health: { interval: 60 } }] });
      await connections(f.port('web'), 3000);
      expect(totals(f)).toEqual({ [a.address]: 2250, [b.address]: 750 });
      // Turned around at run time: the next 400 go 1:3.
      await call<TargetChange>(f, 'target.weight', { app: 'web', target: a.address, weight: 1 });
      await call<TargetChange>(f, 'target.weight', { app: 'web', target: b.address, weight: 3 });
      await connections(f.port('web'), 400);
      expect(totals(f)).toEqual({ [a.address]: 2350, [b.address]: 1050 });
    });

    it('random picks 3:1 by weight over 3 000 connections, within 4 %', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], balance: 'random', targets: [{ address: a.address, weight: 3 }, { address: b.address, weight: 1 }], health: { interval: 60 } }] });
      await connections(f.port('web'), 3000);
      const t = totals(f);
      expect(t[a.address]! + t[b.address]!).toBe(3000);
      expect(Math.abs(t[a.address]! - 2250)).toBeLessThan(120);
    });

    it('weight 0 drains a target: no new connections, the open one keeps flowing; a weight brings it back', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [a.address, b.address], health: { interval: 60 } }] });
      const open = await openEchoClient(f.port('web')); // round-robin: a
      cleanups.push(() => open.close());
      expect(await open.echo('before')).toBe('before');
      const r = await call<TargetChange>(f, 'target.weight', { app: 'web', target: a.address, weight: 0 });
      expect(r).toMatchObject({ app: 'web', change: 'weight', target: { address: a.address, weight: 0, state: 'enabled', active: 1 } });
      expect(await talk(f, `target weight web ${a.address} 0`)).toBe(`web ${a.address}: weight 0 (draining: no new connections)`);
      await connections(f.port('web'), 20);
      expect(totals(f)).toEqual({ [a.address]: 1, [b.address]: 20 });
      expect(await open.echo('still flowing')).toBe('still flowing');
      await call(f, 'target.weight', { app: 'web', target: a.address, weight: 1 });
      await connections(f.port('web'), 20);
      expect(totals(f)).toEqual({ [a.address]: 11, [b.address]: 30 });
    });

    it('refuses a weight outside 0-256, naming it', async () => {
      const a = await startEchoServer();
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [a.address] }] });
      await expect(call(f, 'target.weight', { app: 'web', target: a.address, weight: 257 })).rejects.toMatchObject({ code: 'PXC_ERR_BAD_PARAMS', message: 'target weight: weight: must be 0-256' });
      await expect(talk(f, `target weight web ${a.address} heavy`)).rejects.toMatchObject({ message: 'target weight: weight: must be an integer 0-256' });
      await expect(talk(f, `target add web 127.0.0.1:9 weight=-1`)).rejects.toMatchObject({ code: 'PXC_ERR_BAD_PARAMS' });
    });
  });

  describe('target add / remove', () => {
    it('an added target takes its share at once (health unknown); a removed one takes no new connection while its open one continues', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [a.address], health: { interval: 60 } }] });
      const added = await call<TargetChange>(f, 'target.add', { app: 'web', target: b.address, weight: 2 });
      expect(added).toMatchObject({ app: 'web', change: 'added', target: { address: b.address, weight: 2, health: 'unknown', source: 'runtime' } });
      await connections(f.port('web'), 30);
      expect(totals(f)).toEqual({ [a.address]: 10, [b.address]: 20 });

      let open: EchoClient | undefined;
      for (let i = 0; i < 3 && open === undefined; i++) {
        const c = await openEchoClient(f.port('web'));
        cleanups.push(() => c.close());
        await c.echo('which');
        if (f.info('web').targets.find((t) => t.address === b.address)!.active === 1) open = c;
      }
      expect(await talk(f, `target remove web ${b.address}`)).toBe(`web ${b.address}: removed (1 open connection continues)`);
      const before = b.connections;
      await connections(f.port('web'), 10);
      expect(b.connections).toBe(before);
      expect(f.info('web').targets.map((t) => t.address)).toEqual([a.address]);
      expect(await open!.echo('still here')).toBe('still here');
    });

    it('removes a config target and adds it back; refuses a duplicate, an unknown or malformed one, and a service’s instance', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [a.address, b.address] }] });
      expect(await call<TargetChange>(f, 'target.remove', { app: 'web', target: b.address })).toMatchObject({ app: 'web', change: 'removed', target: { address: b.address, active: 0 } });
      expect(f.info('web').targets.map((t) => t.address)).toEqual([a.address]);
      expect(await call<TargetChange>(f, 'target.add', { app: 'web', target: b.address })).toMatchObject({ target: { source: 'static', weight: 1 } });
      await expect(call(f, 'target.add', { app: 'web', target: b.address })).rejects.toMatchObject({ code: 'PXC_ERR_TARGET_EXISTS', message: `app "web" already has target ${b.address}` });
      await expect(call(f, 'target.remove', { app: 'web', target: '127.0.0.1:1' })).rejects.toMatchObject({ code: 'PXC_ERR_UNKNOWN_TARGET' });
      await expect(call(f, 'target.add', { app: 'web', target: 'no-port' })).rejects.toMatchObject({ code: 'PXC_ERR_BAD_PARAMS', message: 'malformed target "no-port" (expected host:port with port 1-65535)' });
      await expect(call(f, 'target.add', { app: 'nope', target: b.address })).rejects.toMatchObject({ code: 'PXC_ERR_UNKNOWN_APP' });
      f.fwd.addTarget('web', '127.0.0.1:7');
      await expect(call(f, 'target.remove', { app: 'web', target: '127.0.0.1:7' })).rejects.toMatchObject({ code: 'PXC_ERR_SERVICE_TARGET' });
      // A service's instance may be weighed; that weight lives with the instance, not in the state DB.
      expect(await call<TargetChange>(f, 'target.weight', { app: 'web', target: '127.0.0.1:7', weight: 0 })).toMatchObject({ target: { source: 'dynamic', weight: 0, health: 'up' } });
    });
  });

  describe('persistence', () => {
    it('keeps target add/remove/weight in the state DB across a restart and a reload until app reset', async () => {
      const [a, b, c] = [await startEchoServer(), await startEchoServer(), await startEchoServer()];
      const state = tempState();
      const config = { apps: [{ name: 'web', ports: [0], targets: [a.address, b.address] }] };
      const first = await startForward(engine, config, { state });
      await call(first, 'target.add', { app: 'web', target: c.address, weight: 5 });
      await call(first, 'target.remove', { app: 'web', target: a.address });
      await call(first, 'target.weight', { app: 'web', target: b.address, weight: 2 });
      await first.close();

      const view = (f: InProcessForward) => f.info('web').targets.map((t) => [t.address, t.weight, t.source]);
      const second = await startForward(engine, config, { state });
      const changed = [
        [b.address, 2, 'static'],
        [c.address, 5, 'runtime'],
      ];
      expect(view(second)).toEqual(changed);
      await connections(second.port('web'), 14);
      expect(totals(second)).toEqual({ [b.address]: 4, [c.address]: 10 });
      // A reload of the app (new balance) keeps them.
      await second.reload({ apps: [{ ...config.apps[0], balance: 'least-conn' }] });
      expect(view(second)).toEqual(changed);

      const reset = await call<AppReset>(second, 'app.reset', { name: 'web' });
      expect(reset).toMatchObject({ app: 'web', dropped: true });
      expect(reset.targets.map((t) => [t.address, t.weight])).toEqual([
        [a.address, 1],
        [b.address, 1],
      ]);
      expect(await talk(second, 'app reset web')).toBe(`web: no run-time target changes; targets: ${a.address}, ${b.address}`);
      await second.close();
      const third = await startForward(engine, config, { state });
      expect(view(third)).toEqual([
        [a.address, 1, 'static'],
        [b.address, 1, 'static'],
      ]);
    });
  });

  describe('app sessions', () => {
    it('lists open connections oldest first with client, target, state, age and bytes; the limit shows how many more are open', async () => {
      const e = await startEchoServer();
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [e.address] }] });
      const clients: EchoClient[] = [];
      for (const payload of ['first', 'second!', 'third..!']) {
        const c = await openEchoClient(f.port('web'));
        cleanups.push(() => c.close());
        expect(await c.echo(payload)).toBe(payload);
        clients.push(c);
      }
      const r = await waitFor('three sessions with their bytes', async () => {
        const s = await call<AppSessions>(f, 'app.sessions', { name: 'web' });
        return s.sessions.length === 3 && s.sessions.every((x) => x.bytes_out === x.bytes_in && x.bytes_in > 0) ? s : null;
      });
      expect(r.active).toBe(3);
      // Each client by its address, with the bytes it sent (and got back).
      const byClient = Object.fromEntries(r.sessions.map((s) => [s.client, s.bytes_in]));
      expect(byClient).toEqual(Object.fromEntries(clients.map((c, i) => [`127.0.0.1:${c.socket.localPort}`, [5, 7, 8][i]])));
      for (const s of r.sessions) expect(s).toMatchObject({ target: e.address, state: 'open' });
      // Oldest first (ages tie within the clock's resolution, so only the order of ages is certain).
      expect(r.sessions.map((s) => s.age_ms)).toEqual(r.sessions.map((s) => s.age_ms).sort((x, y) => y - x));
      const text = await talk(f, 'app sessions web limit=2');
      expect(text.split('\n')[0]).toMatch(/^CLIENT\s+TARGET\s+STATE\s+AGE\s+IN\s+OUT$/);
      expect(text.split('\n')).toHaveLength(4);
      expect(text).toContain('(2 of 3 open connections shown)');
      for (const c of clients) c.close();
      await waitFor('none left', async () => (await call<AppSessions>(f, 'app.sessions', { name: 'web' })).active === 0);
      expect(await talk(f, 'app sessions web')).toBe('web: no open connections');
    });
  });

  describe('health before the first check', () => {
    it('a never-checked target is unknown and takes traffic; its first check makes it up; targets_up counts only checked ones', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [a.address, b.address], health: { interval: 1 } }] });
      const app = () => (f.stats.snapshot() as { apps: Record<string, Record<string, unknown>> }).apps.web!;
      expect(f.info('web').targets.map((t) => t.health)).toEqual(['unknown', 'unknown']);
      expect(app()).toMatchObject({ targets_up: 0, targets_unknown: 2, targets_total: 2 });
      await connections(f.port('web'), 4);
      expect(totals(f)).toEqual({ [a.address]: 2, [b.address]: 2 });
      await waitFor('first checks passed', () => f.info('web').targets.every((t) => t.health === 'up'), { timeoutMs: 5000 });
      expect(app()).toMatchObject({ targets_up: 2, targets_unknown: 0 });
      expect(f.info('web')).toMatchObject({ targets_up: 2, targets_unknown: 0 });
    });

    it('the first failed check takes an unknown target down at once, as HAProxy (not after `fall` checks)', async () => {
      const a = await startEchoServer();
      const dead = `127.0.0.1:${await freePort()}`;
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [a.address, dead], health: { interval: 0.2, fall: 3 } }] });
      const t = await waitFor('dead checked', () => f.info('web').targets.find((x) => x.address === dead && x.health !== 'unknown'));
      expect(t).toMatchObject({ health: 'down', check_failures: 1 });
    });
  });

  describe('app stats', () => {
    it('writes HAProxy’s show stat CSV: its header, a FRONTEND, a row per target, a BACKEND; INI before the first check, L4OK after', async () => {
      const [a, b] = [await startEchoServer(), await startEchoServer()];
      const f = await startForward(engine, { apps: [{ name: 'web', ports: [0], targets: [{ address: a.address, weight: 3 }, b.address], health: { interval: 1.5, rise: 2, fall: 3 }, max_connections: 500 }] });
      await call(f, 'target.disable', { app: 'web', target: b.address });
      await connections(f.port('web'), 6);
      await waitFor('closed on the proxy too', () => f.info('web').active === 0);
      const csv = async () => {
        const s = await call<AppStats>(f, 'app.stats', { name: 'web', csv: true });
        const [header, ...lines] = s.csv!.trimEnd().split('\n');
        return { header: header!, rows: lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [HAPROXY_STAT_FIELDS[i], v]))), s };
      };
      const before = await csv();
      expect(before.header).toBe(`# ${HAPROXY_STAT_FIELDS.join(',')},`);
      expect(before.header.startsWith('# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,')).toBe(true);
      expect(before.s.csv!.split('\n').slice(1, -1).every((l) => l.endsWith(',') && l.split(',').length === HAPROXY_STAT_FIELDS.length + 1)).toBe(true);
      expect(before.rows.map((r) => [r.pxname, r.svname, r.type])).toEqual([
        ['web', 'FRONTEND', '0'],
        ['web', a.address, '2'],
        ['web', b.address, '2'],
        ['web', 'BACKEND', '1'],
      ]);
      const [fe, sa, sb, be] = before.rows;
      expect(fe).toMatchObject({ status: 'OPEN', scur: '0', slim: '500', stot: '6', bin: '6', bout: '6', mode: 'tcp', qcur: '', hrsp_2xx: '' });
      expect(sa).toMatchObject({ status: 'UP 1/3', weight: '3', stot: '6', lbtot: '6', check_status: 'INI', check_desc: 'Initializing', check_rise: '2', check_fall: '3', check_health: '2', addr: a.address, act: '1', bck: '0' });
      expect(sb).toMatchObject({ status: 'MAINT', stot: '0' });
      expect(be).toMatchObject({ status: 'UP', weight: '3', act: '1', stot: '6', algo: 'roundrobin', econ: '0' });
      await waitFor('checked', () => f.info('web').targets[0]!.health === 'up', { timeoutMs: 5000 });
      const after = (await csv()).rows[1]!;
      expect(after).toMatchObject({ status: 'UP', check_status: 'L4OK', check_desc: 'Layer4 check passed', check_health: '4' });
      expect(Number(after.check_duration)).toBeGreaterThanOrEqual(0);
      // The table and JSON forms of the same rows.
      const table = await talk(f, 'app stats web');
      expect(table.split('\n')[0]).toMatch(/^PXNAME\s+SVNAME\s+STATUS\s+WEIGHT\s+SCUR/);
      expect((await call<AppStats>(f, 'app.stats', {})).rows.map((r) => r.svname)).toEqual(['FRONTEND', a.address, b.address, 'BACKEND']);
      expect(await talk(f, 'app stats web format=csv')).toBe((await csv()).s.csv!.trimEnd());
    });
  });
});

describe('run-time targets (real agent)', () => {
  it('target add/weight/remove survive an agent restart and app reset drops them; each answers --json with the new state', async () => {
    const [a, b, c] = [await startEchoServer(), await startEchoServer(), await startEchoServer()];
    // No health check during the test: its TCP connects would count among c's connections (under load the test outlasts the 5 s interval).
    const config = { apps: [{ name: 'web', ports: [0], targets: [a.address, b.address], health: { interval: 3600 } }] };
    const agent = await startInProcessAgent({ config, logLevel: 'info' });
    const added = await agent.cli(['target', 'add', 'web', c.address, '--weight', '3', '--json']);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ app: 'web', change: 'added', target: { address: c.address, weight: 3, health: 'unknown', source: 'runtime' } });
    expect(await agent.cli(['target', 'weight', 'web', b.address, '0'])).toMatchObject({ code: 0, stdout: `web ${b.address}: weight 0 (draining: no new connections)\n` });
    expect((await agent.talk(`target remove web ${a.address}`)).trim()).toBe(`web ${a.address}: removed`);
    expect(await agent.stop()).toEqual([]);

    const view = (i: AppInfo) => i.targets.map((t) => [t.address, t.weight, t.source]);
    const again = await startInProcessAgent({ stateDir: agent.stateDir, config, logLevel: 'info' });
    const info = await again.rpc<AppInfo>('app.info', { name: 'web' });
    expect(view(info)).toEqual([
      [b.address, 0, 'static'],
      [c.address, 3, 'runtime'],
    ]);
    expect(again.stderr()).toContain('app web: run-time target changes restored (app reset drops them)');
    for (let i = 0; i < 4; i++) expect((await roundTrip(info.ports[0]!.bound_port!, 'x')).toString()).toBe('x');
    // Every session went to c (b drains at weight 0); the agent's own counts, as health checks connect to the targets too.
    const totals = (await again.rpc<AppInfo>('app.info', { name: 'web' })).targets.map((t) => [t.address, t.total]);
    expect(totals).toEqual([
      [b.address, 0],
      [c.address, 4],
    ]);
    const reset = await again.cli(['app', 'reset', 'web', '--json']);
    expect(reset.code).toBe(0);
    expect((JSON.parse(reset.stdout) as AppReset).targets.map((t) => [t.address, t.weight])).toEqual([
      [a.address, 1],
      [b.address, 1],
    ]);
    expect(await again.stop()).toEqual([]);

    const third = await startInProcessAgent({ stateDir: agent.stateDir, config });
    expect(view(await third.rpc<AppInfo>('app.info', { name: 'web' }))).toEqual([
      [a.address, 1, 'static'],
      [b.address, 1, 'static'],
    ]);
    const bad = await third.cli(['target', 'weight', 'web', a.address, '300']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('proxyctl: WEIGHT: must be an integer 0-256, not "300"\n');
  });
});
