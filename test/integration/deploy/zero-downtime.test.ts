import { afterEach, describe, expect, it } from 'vitest';
import type { DeployRecord, ServiceInfo, ServiceSummary } from '../../../src/deploy/controller.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents } from '../../helpers/in-process-agent.js';
import { startNotesLoad } from '../../helpers/notes-load.js';
import { waitFor } from '../../helpers/wait.js';
import { alive } from '../../helpers/controller.js';
import { notesConfig, notesPort, startNotes } from './notes-service.js';

/** Deploys of the notes service while a client calls continuously: zero failed calls; both versions serve during ROLLOUT_WAIT. */

afterEach(async () => {
  // A graceful stop: the agent stops its instances (a SIGKILLed agent would orphan them).
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('rolling deploys under load', () => {
  it('serves a client calling continuously across two deploys with zero failed calls; both versions serve during ROLLOUT_WAIT; the previous gets SIGTERM and exits', async () => {
    const { config } = await notesConfig();
    const agent = await startNotes(config);
    const endpoint = await agent.rpc<{ url: string }>('service.endpoint', { service: 'notes' });
    expect(endpoint.url).toBe(`http://127.0.0.1:${await notesPort(agent)}/rpc`);
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
      expect(r.stdout).toMatch(new RegExp(`\ndeploy \\d+ of notes: succeeded, notes v${version} is current\n$`));
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
    const logs = await agent.cliInProcess(['service', 'logs', 'notes', '--lines', '1000']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/notes@v1 out \| .*stopped on SIGTERM/);
    expect(logs.stdout).toMatch(/notes@v2 out \| .*stopped on SIGTERM/);
    expect(alive(pids[0]!)).toBe(false);
    expect(alive(pids[1]!)).toBe(false);
    expect(alive(pids[2]!)).toBe(true);

    const list = await agent.cliInProcess(['service', 'list', '--json']);
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
});
