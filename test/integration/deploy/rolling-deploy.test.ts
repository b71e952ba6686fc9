import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeployRecord, ServiceInfo, ServiceSummary } from '../../../src/deploy/controller.js';
import { DataProxyClient } from '../../../src/deploy/data-proxy/client.js';
import { BIN, cleanupAgents, startAgent, tempDir, type TestAgent } from '../../helpers/agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { startNotesLoad } from '../../helpers/notes-load.js';
import { waitFor } from '../../helpers/wait.js';

/** The notes app and its data-proxy service, as examples/notes.json but on a free port and a temp DB. */
async function notesConfig(over: Record<string, unknown> = {}) {
  const port = await freePort();
  const db = join(tempDir('pxc-notes-'), 'db');
  return {
    port,
    config: {
      apps: [{ name: 'notes', ports: [port], balance: 'random' }],
      services: [
        {
          name: 'notes',
          app: 'notes',
          command: [process.execPath, BIN, 'data-proxy', '--db', db, '--shards', '3'],
          ready: { kind: 'jsonrpc', path: '/rpc' },
          ready_attempts: 100,
          ready_interval: 0.1,
          drain: 1,
          stop_timeout: 5,
          ...over,
        },
      ],
    },
  };
}

const agents: TestAgent[] = [];
async function start(config: unknown): Promise<TestAgent> {
  const agent = await startAgent({ config, logLevel: 'info' });
  agents.push(agent);
  await waitFor('first deploy', async () => (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).state === 'READY', { timeoutMs: 30_000 });
  return agent;
}

afterEach(async () => {
  // A graceful stop: the agent stops its instances (a SIGKILLed agent would orphan them).
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await cleanupAgents();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('rolling deploys of the notes service', () => {
  it('serves a client calling without pause across two deploys with zero failed calls; both versions serve during ROLLOUT_WAIT; the previous gets SIGTERM and exits', async () => {
    const { port, config } = await notesConfig();
    const agent = await start(config);
    const endpoint = await agent.rpc<{ url: string }>('service.endpoint', { service: 'notes' });
    expect(endpoint.url).toBe(`http://127.0.0.1:${port}/rpc`);
    const load = startNotesLoad(endpoint.url);
    await waitFor('load running', () => load.report().calls > 20);

    const pids: number[] = [(await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!.pid!];
    const records: DeployRecord[] = [];
    const windows: Array<{ from: number; to: number; previous: number; current: number }> = [];
    for (const version of [2, 3]) {
      const r = await agent.cli(['deploy', 'notes', '--wait'], { timeoutMs: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/ROLLOUT_LAUNCH_NEW[\s\S]*ROLLOUT_WAIT[\s\S]*READY/);
      expect(r.stdout).toContain(`notes v${version} is current`);
      const info = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
      const d = info.deploys.at(-1)!;
      records.push(d);
      const at = (s: string) => Date.parse(d.phases.find((p) => p.state === s)!.at);
      windows.push({ from: at('ROLLOUT_WAIT'), to: at('READY'), previous: pids.at(-1)!, current: info.current!.pid! });
      pids.push(info.current!.pid!);
      expect(info.current!.version).toBe(version);
      expect(info.previous).toBeNull();
      // Calls keep flowing on the new version before the next deploy.
      const before = load.report().calls;
      await waitFor('calls after the deploy', () => load.report().calls > before + 20);
    }
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    expect(report.calls).toBeGreaterThan(100);
    for (const d of records) expect(d.result).toBe('succeeded');
    for (const w of windows) {
      const served = new Set(report.servedBy.filter(([t]) => t >= w.from && t <= w.to).map(([, pid]) => pid));
      expect(served.has(w.previous), `previous pid ${w.previous} served during ROLLOUT_WAIT`).toBe(true);
      expect(served.has(w.current), `current pid ${w.current} served during ROLLOUT_WAIT`).toBe(true);
    }
    // v1 and v2 were stopped with SIGTERM after their drain, and are gone.
    const logs = await agent.cli(['service', 'logs', 'notes', '--lines', '1000']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/notes@v1 out \| .*stopped on SIGTERM/);
    expect(logs.stdout).toMatch(/notes@v2 out \| .*stopped on SIGTERM/);
    expect(alive(pids[0]!)).toBe(false);
    expect(alive(pids[1]!)).toBe(false);
    expect(alive(pids[2]!)).toBe(true);

    const list = await agent.cli(['service', 'list', '--json']);
    const services = JSON.parse(list.stdout) as ServiceSummary[];
    expect(services).toMatchObject([{ name: 'notes', state: 'READY', health: 'ok', current: { version: 3 }, previous: null }]);

    // Shard totals (pulled every 2 s, retired versions included) reach stats.
    const stats = await waitFor('shard stats', async () => {
      const s = (await agent.rpc<any>('agent.stats')).services?.notes?.shards;
      return s && Object.keys(s).length === 3 && s['shard-0'].total > 0 ? s : null;
    });
    const total = Object.values(stats as Record<string, { total: number }>).reduce((a, s) => a + s.total, 0);
    expect(total).toBeGreaterThan(0);
  });

  it('refuses a second deploy while one runs, at once', async () => {
    const { config } = await notesConfig({ drain: 30 });
    const agent = await start(config);
    const first = await agent.cli(['deploy', 'notes']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/deploy 2 of notes started: v1 -> v2/);
    const second = await agent.cli(['deploy', 'notes', '--json']);
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout)).toMatchObject({ error: { code: 'PXC_ERR_DEPLOY_IN_PROGRESS', message: expect.stringMatching(/deploy already in progress/) } });
    expect((await agent.talk('deploy notes')).trim()).toMatch(/^error: service notes: deploy already in progress/);
  });

  it('rolls back a version that never gets ready: the deploy fails, the current version keeps serving', async () => {
    const { config } = await notesConfig();
    const agent = await start(config);
    const v1 = (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!;
    // The next version probes a path the data proxy does not serve: never ready.
    const broken = structuredClone(config);
    Object.assign(broken.services[0]!, { ready: { kind: 'http', path: '/nowhere' }, ready_attempts: 40, ready_interval: 0.1 });
    agent.writeConfig(broken);
    expect((await agent.talk('reload')).trim()).toBe('OK');
    const r = await agent.cli(['deploy', 'notes', '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/deploy 2 of notes failed: notes@v2 never became ready: 40 http probes .* GET \/nowhere answered 404; notes@v1 keeps serving/);
    const info = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
    expect(info).toMatchObject({ state: 'READY', health: 'ok', current: { version: 1, pid: v1.pid }, previous: null, launching: null, last_deploy: { id: 2, result: 'failed' } });
    const client = new DataProxyClient(`http://127.0.0.1:${config.apps[0]!.ports[0]}/rpc`);
    try {
      expect((await client.createNote('still', 'here')).title).toBe('still');
    } finally {
      client.close();
    }
  });

  it('restarts an instance killed with SIGKILL: the exit, the restart and its count in service info, logged', async () => {
    const { config } = await notesConfig();
    const agent = await start(config);
    const v1 = (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!;
    process.kill(v1.pid!, 'SIGKILL');
    const info = await waitFor('restarted', async () => {
      const i = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
      return i.restarts === 1 && i.current?.state === 'ready' ? i : null;
    }, { timeoutMs: 20_000 });
    expect(info).toMatchObject({ health: 'ok', version: 1, current: { version: 1, restarts: 1 }, degraded_reason: null });
    expect(info.current!.pid).not.toBe(v1.pid);
    expect(alive(v1.pid!)).toBe(false);
    await waitFor('logged', () => /service notes degraded: notes@v1 \(current\) exited on its own.*killed by SIGKILL\); restart 1 of at most 16 in a row/.test(agent.stderr()) && /notes@v1 restarted/.test(agent.stderr()));
    const text = await agent.cli(['service', 'info', 'notes']);
    expect(text.stdout).toMatch(/restarts\s+1 \(restart on-failure, max_restarts 16, restart_delay 0.1 s\)/);
    expect((await agent.talk('service info notes')).split('\n')[0]).toMatch(/^service notes \(app notes\): READY, ok, v1, 1\/1 ready, 1 restart/);
    // Serving again through the app.
    const client = new DataProxyClient(`http://127.0.0.1:${config.apps[0]!.ports[0]}/rpc`);
    try {
      expect((await client.createNote('back', 'again')).title).toBe('back');
    } finally {
      client.close();
    }
  });

  it('scales up and down, and rolls a deploy over 3 instances in batches of max_surge followed by events, under a client calling without pause, with zero failed calls', async () => {
    const { config } = await notesConfig({ max_surge: 2, drain: 0.5 });
    const agent = await start(config);
    const endpoint = await agent.rpc<{ url: string }>('service.endpoint', { service: 'notes' });
    const load = startNotesLoad(endpoint.url);
    await waitFor('load running', () => load.report().calls > 20);
    const mark = async () => {
      const before = load.report().calls;
      await waitFor('calls go on', () => load.report().calls > before + 20);
    };

    const up = await agent.cli(['service', 'scale', 'notes', '3'], { timeoutMs: 60_000 });
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/scale \d+ of notes: to 3 instances[\s\S]*SCALING[\s\S]*READY[\s\S]*succeeded/);
    expect(await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).toMatchObject({ ready: 3, scale: 3, health: 'ok' });
    await mark();

    const requests = async () => (await agent.rpc<any>('agent.stats')).control.requests.jsonrpc as number;
    const before = await requests();
    const d = await agent.cli(['deploy', 'notes', '--wait'], { timeoutMs: 60_000 });
    expect(d.code).toBe(0);
    // Followed by events: events.subscribe, service.deploy, one service.info for the final record (and the stats call);
    // polling service.info every 200 ms through two 0.5 s drains would make 8 or more.
    expect((await requests()) - before).toBeLessThanOrEqual(4);
    expect(d.stdout).toMatch(/ROLLOUT_LAUNCH_NEW \(batch 1\/2\)[\s\S]*ROLLOUT_WAIT \(batch 1\/2\)[\s\S]*ROLLOUT_LAUNCH_NEW \(batch 2\/2\)[\s\S]*READY/);
    const after = await agent.rpc<ServiceInfo>('service.info', { service: 'notes' });
    expect(after.instances.map((i) => [i.instance, i.version, i.state])).toEqual([
      [0, 2, 'ready'],
      [1, 2, 'ready'],
      [2, 2, 'ready'],
    ]);
    await mark();

    const down = await agent.cli(['service', 'scale', 'notes', '1', '--json'], { timeoutMs: 60_000 });
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ kind: 'scale', instances: 1, result: 'succeeded' });
    await mark();
    const report = await load.stop();
    expect(report.failures).toEqual([]);
    const served = new Set(report.servedBy.map(([, pid]) => pid));
    for (const i of after.instances) expect(served.has(i.pid!), `v2 instance ${i.instance} (pid ${i.pid}) served`).toBe(true);
    expect(await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).toMatchObject({ ready: 1, scale: 1, instances: [{ instance: 0, version: 2 }] });
  });

  it('keeps the history across an agent restart, brings back the version that served, and rolls back to the previous one', async () => {
    const { config } = await notesConfig({ drain: 0 });
    const agent = await start(config);
    expect((await agent.cli(['deploy', 'notes', '--wait'])).code).toBe(0);
    expect(await agent.stop()).toBe(0);
    agents.splice(agents.indexOf(agent), 1);
    const again = await startAgent({ config, stateDir: agent.stateDir, logLevel: 'info' });
    agents.push(again);
    await waitFor('started', async () => (await again.rpc<ServiceInfo>('service.info', { service: 'notes' })).state === 'READY', { timeoutMs: 30_000 });
    expect(await again.rpc<ServiceInfo>('service.info', { service: 'notes' })).toMatchObject({ version: 2, previous_version: 1 });
    const h = await again.cli(['service', 'history', 'notes']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^3\s+start\s+v2 -> v2\s+succeeded/m);
    expect(h.stdout).toMatch(/^2\s+deploy\s+v1 -> v2\s+succeeded/m);
    expect(h.stdout).toMatch(/^1\s+start\s+v- -> v1\s+succeeded/m);
    expect(h.stdout).toMatch(/^v2\s+current\s/m);
    expect(h.stdout).toMatch(/^v1\s+previous\s/m);
    const rb = await again.cli(['deploy', 'notes', '--rollback', '--wait', '--json'], { timeoutMs: 60_000 });
    expect(rb.code).toBe(0);
    expect(JSON.parse(rb.stdout)).toMatchObject({ kind: 'rollback', version: 3, from_version: 2, result: 'succeeded' });
    const json = JSON.parse((await again.cli(['service', 'history', 'notes', '--json'])).stdout);
    expect(json.releases.at(-1)).toMatchObject({ version: 3, source: 'rollback', rollback_of: 1 });
  });

  it('leaves no data proxy behind when the agent itself is killed with SIGKILL (the instance notices and stops)', async () => {
    const { port, config } = await notesConfig();
    const agent = await start(config);
    const v1 = (await agent.rpc<ServiceInfo>('service.info', { service: 'notes' })).current!;
    await agent.kill9();
    await waitFor('orphaned data proxy gone', () => !alive(v1.pid!), { timeoutMs: 10_000 });
    // A new agent on the same config serves the same notes DB with its own instance.
    const again = await start(config);
    const client = new DataProxyClient(`http://127.0.0.1:${port}/rpc`);
    try {
      expect(await client.listNotes()).toEqual([]);
    } finally {
      client.close();
    }
    expect((await again.rpc<ServiceInfo>('service.info', { service: 'notes' })).current?.pid).not.toBe(v1.pid);
  });
});
