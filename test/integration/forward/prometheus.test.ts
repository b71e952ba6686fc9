import { afterEach, describe, expect, it } from 'vitest';
import { StatsRegistry } from '../../../src/stats/registry.js';
import { StatsExporter } from '../../../src/stats/prometheus.js';
import { cleanupAgents } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import type { AgentInfo } from '../../../src/agent/core-commands.js';
import { boundPort } from '../../helpers/app-ports.js';
import { roundTrip, startEchoServer } from '../../helpers/echo-server.js';
import { openFooClient, startFooServer } from '../../helpers/foo-server.js';
import { closeTestServers } from '../../helpers/servers.js';

/** Parses Prometheus text exposition strictly enough to catch malformed output: name → samples. */
function parseExposition(text: string): Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }> {
  const out = new Map<string, { type: string; samples: { labels: Record<string, string>; value: number }[] }>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (type) {
      out.set(type[1]!, { type: type[2]!, samples: [] });
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`malformed exposition line: ${line}`);
    const fam = out.get(m[1]!);
    if (!fam) throw new Error(`sample before its # TYPE: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) labels[l[1]!] = l[2]!;
    fam.samples.push({ labels, value: Number(m[3]) });
  }
  return out;
}

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await closeTestServers();
});

describe('Prometheus exposition', () => {
  it('exports counters, gauges and rates (as _1s/_10s gauges) with scope labels', async () => {
    const stats = new StatsRegistry();
    stats.close();
    const s = stats.scope('apps', { app: 'echo' });
    s.counter('msg_req', 'REQ messages').inc(12);
    s.gauge('connections_active', 'open').set(3);
    s.rate('request_rate', 'REQ/s').mark(5);
    s.scope('targets', { target: '127.0.0.1:80' }).counter('bytes_in', 'bytes').inc(7);
    s.text('state', 'not exported', () => 'x');
    stats.scope('process').gauge('broken', 'throws', () => {
      throw new Error('boom');
    });
    const text = await new StatsExporter(stats).metrics();
    const fams = parseExposition(text);
    expect(fams.get('proxyctl_apps_msg_req')).toEqual({ type: 'counter', samples: [{ labels: { app: 'echo' }, value: 12 }] });
    expect(fams.get('proxyctl_apps_connections_active')!.samples[0]!.value).toBe(3);
    expect(fams.get('proxyctl_apps_request_rate_1s')!.type).toBe('gauge');
    expect(fams.has('proxyctl_apps_request_rate_10s')).toBe(true);
    expect(fams.get('proxyctl_apps_targets_bytes_in')!.samples).toEqual([{ labels: { app: 'echo', target: '127.0.0.1:80' }, value: 7 }]);
    expect(text).not.toContain('state');
    expect(fams.has('proxyctl_process_broken')).toBe(false);
  });

  it('keeps one registry across scrapes: counters read as they stand, series of a removed scope gone, one label set per name', async () => {
    const stats = new StatsRegistry();
    stats.close();
    const exporter = new StatsExporter(stats);
    const app = stats.scope('apps', { app: 'echo' });
    const req = app.counter('msg_req', 'REQ messages');
    req.inc(3);
    const target = app.scope('targets', { target: '127.0.0.1:80' });
    target.counter('bytes_in', 'bytes').inc(7);
    // The same name from a scope with other labels: another meaning, left out rather than padded with target="".
    app.gauge('targets_bytes_in', 'clash', () => 1);
    const first = parseExposition(await exporter.metrics());
    expect(first.get('proxyctl_apps_msg_req')!.samples).toEqual([{ labels: { app: 'echo' }, value: 3 }]);
    expect(first.get('proxyctl_apps_targets_bytes_in')!.samples).toEqual([{ labels: { app: 'echo', target: '127.0.0.1:80' }, value: 7 }]);
    req.inc(2);
    const second = parseExposition(await exporter.metrics());
    expect(second.get('proxyctl_apps_msg_req')!.samples).toEqual([{ labels: { app: 'echo' }, value: 5 }]);
    app.remove();
    const third = parseExposition(await exporter.metrics());
    expect(third.has('proxyctl_apps_msg_req')).toBe(false);
  });

  it('serves every registered stat on metrics.listen, and /healthz (real agent)', async () => {
    const e = await startEchoServer();
    const f = await startFooServer();
    const agent = await startInProcessAgent({
      config: {
        metrics: { listen: '127.0.0.1:0' },
        apps: [
          { name: 'echo', ports: [0], targets: [e.address] },
          { name: 'foo', ports: [0], targets: [f.address], protocol: 'foo' },
        ],
      },
    });
    const [pe, pf] = [await boundPort(agent, 'echo'), await boundPort(agent, 'foo')];
    // agent status says where the metrics are: the port the kernel gave, not the configured 0
    const { metrics } = await agent.rpc<AgentInfo>('agent.status');
    const pm = Number(/^http:\/\/127\.0\.0\.1:(\d+)\/metrics$/.exec(metrics ?? '')?.[1]);
    expect(pm).toBeGreaterThan(0);
    await roundTrip(pe, 'hello');
    const c = await openFooClient(pf);
    c.send('REQ 1 a\nREQ 2 b\n');
    await c.waitLines(2);
    c.close();

    const health = await fetch(`http://127.0.0.1:${pm}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', pid: agent.pid });

    const res = await fetch(`http://127.0.0.1:${pm}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const fams = parseExposition(await res.text());
    expect(fams.get('proxyctl_apps_msg_req')!.samples).toEqual([{ labels: { app: 'foo' }, value: 2 }]);
    expect(fams.get('proxyctl_apps_msg_ack')!.samples).toEqual([{ labels: { app: 'foo' }, value: 2 }]);
    expect(fams.get('proxyctl_apps_bytes_in')!.samples).toContainEqual({ labels: { app: 'echo' }, value: 5 });
    expect(fams.get('proxyctl_apps_targets_connections_total')!.samples).toContainEqual({ labels: { app: 'echo', target: e.address }, value: 1 });
    for (const name of ['proxyctl_apps_request_rate_1s', 'proxyctl_apps_response_rate_10s', 'proxyctl_process_rss_bytes']) expect(fams.has(name)).toBe(true);
    // Every number in `stats` is somewhere in the exposition.
    expect([...fams.keys()].length).toBeGreaterThan(20);
    // One label set per name: no family mixes series with and without a label (sum() would count twice).
    for (const [name, fam] of fams) {
      const sets = new Set(fam.samples.map((x) => Object.keys(x.labels).sort().join(',')));
      expect(sets.size, name).toBeLessThanOrEqual(1);
      for (const x of fam.samples) expect(Object.values(x.labels), name).not.toContain('');
    }
    expect(fams.get('proxyctl_apps_targets_up')!.samples).toEqual([{ labels: { app: 'echo' }, value: expect.any(Number) }, { labels: { app: 'foo' }, value: expect.any(Number) }]);
    expect(fams.get('proxyctl_apps_targets_healthy')!.samples).toContainEqual({ labels: { app: 'echo', target: e.address }, value: expect.any(Number) });
    expect((await fetch(`http://127.0.0.1:${pm}/nope`)).status).toBe(404);
  });
});
