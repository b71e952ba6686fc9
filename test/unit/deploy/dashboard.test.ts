import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import type { ServiceSummary } from '../../../src/deploy/controller.js';
import { renderDashboard, shardRows, truncate, type DashboardData, type DashboardView } from '../../../src/ui/dashboard.js';

const now = new Date('2026-01-02T10:00:30Z');

function service(name: string, over: Partial<ServiceSummary> = {}): ServiceSummary {
  return {
    name,
    app: name,
    state: 'READY',
    health: 'ok',
    version: 3,
    scale: 2,
    ready: 2,
    restarts: 1,
    current: { instance: 0, version: 3, role: 'current', state: 'ready', pid: 10, port: 4000, address: '127.0.0.1:4000', launched_at: '2026-01-02T10:00:00.000Z', ready_at: null, exit: null, requests: null, restarts: 1, next_restart_at: null, gave_up: false },
    previous: null,
    launching: null,
    instances: [],
    req_rate: 12.345,
    last_deploy: { id: 3, service: name, kind: 'deploy', version: 3, from_version: 2, instances: 2, result: 'succeeded', phases: [], started_at: '', finished_at: null, error: null },
    ...over,
  };
}

const data: DashboardData = {
  services: [service('notes'), service('other', { state: 'ROLLOUT_WAIT', previous: { ...service('x').current!, version: 2, role: 'previous', launched_at: '2026-01-02T09:58:30.000Z' } })],
  shards: [{ service: 'notes', shard: 'shard-0', total: 42, rate_1s: 3 }],
  apps: [{ name: 'notes', protocol: 'tcp', ports: [8080], ports_listening: 1, targets_up: 2, targets_unknown: 0, targets_total: 2, active: 5, total: 99, request_rate_1s: null }],
  proxy: { revision: 4, policy: 'default', active_group: 1, active_proxy: 'http://b:3128', first_fallback_group: null, reset_in_s: null, pac: null, spec: '', fallback_spec: '', groups: [
    { index: 0, fallback: false, pac: false, healthy: false, proxies: [{ address: 'http://a:3128', state: 'unhealthy', healthy: false, addresses: null, address_error: null, last_check: null, latency_ms: null, failures: 3 }] },
    { index: 1, fallback: false, pac: false, healthy: true, proxies: [{ address: 'http://b:3128', state: 'healthy', healthy: true, addresses: null, address_error: null, last_check: null, latency_ms: null, failures: 0 }] },
  ] },
  at: now,
};

const view = (over: Partial<DashboardView> = {}): DashboardView => ({ selected: 0, message: null, error: null, width: 200, height: 60, chalk: new Chalk({ level: 0 }), ...over });

describe('renderDashboard', () => {
  it('shows each service with state, current and previous version with launch time and age, req/s and the last deploy', () => {
    const text = renderDashboard(data, view()).join('\n');
    expect(text).toMatch(/>\s+notes\s+READY\s+ok\s+v3 \(10:00:00, 30s ago\)\s+-\s+2\/2\s+1\s+12.3\s+3 deploy v3 succeeded/);
    expect(text).toMatch(/other\s+ROLLOUT_WAIT\s+ok\s+v3 \(10:00:00, 30s ago\)\s+v2 \(09:58:30, 2m ago\)/);
  });

  it('marks the selected service', () => {
    const lines = renderDashboard(data, view({ selected: 1 }));
    expect(lines.find((l) => l.includes('notes') && l.includes('READY'))!.startsWith('>')).toBe(false);
    expect(lines.find((l) => l.includes('other'))!.startsWith('>')).toBe(true);
  });

  it('shows shards, apps and the upstream proxy list with the active group', () => {
    const text = renderDashboard(data, view()).join('\n');
    expect(text).toMatch(/notes\s+shard-0\s+42\s+3/);
    expect(text).toMatch(/notes\s+8080\s+2\/2\s+5\s+99\s+-/);
    expect(text).toContain('active group 1: http://b:3128');
    expect(text).toMatch(/ \[0\] http:\/\/a:3128 unhealthy/);
    expect(text).toMatch(/\*\[1\] http:\/\/b:3128 healthy/);
  });

  it('shows the last message, or the connection error instead', () => {
    expect(renderDashboard(data, view({ message: 'deploy 4 of notes started' })).at(-1)).toBe('deploy 4 of notes started');
    expect(renderDashboard(data, view({ message: 'x', error: 'ECONNREFUSED' })).at(-1)).toBe('agent unreachable: ECONNREFUSED');
  });

  it('fits the terminal: never more lines than rows, never wider than columns', () => {
    const lines = renderDashboard(data, view({ width: 30, height: 10 }));
    expect(lines.length).toBeLessThanOrEqual(10);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(30);
  });

  it('says so when there is nothing yet', () => {
    const text = renderDashboard({ services: [], shards: [], apps: [], proxy: null, at: now }, view()).join('\n');
    expect(text).toContain('no services configured');
    expect(text).toContain('no shard stats yet');
  });

  it('shows the download queue, the newest events that fit, and a question in place of the message', () => {
    const withMore: DashboardData = {
      ...data,
      downloads: [{ id: 7, state: 'active', url: 'http://o/big.iso', bytes: 512 * 1024, total: 1024 * 1024, speed_bps: 2048 }],
      events: Array.from({ length: 100 }, (_, i) => `10:00:${String(i % 60).padStart(2, '0')}.000 service.exit e${i}`),
    };
    const lines = renderDashboard(withMore, view({ height: 40, question: 'deploy notes v3 -> new version? [y/N]', message: 'hidden' }));
    const text = lines.join('\n');
    expect(lines.length).toBeLessThanOrEqual(40);
    expect(text).toMatch(/DOWNLOADS[\s\S]*7\s+active\s+512\.0 KiB \/ 1\.00 MiB \(50%\)\s+2\.00 KiB\/s\s+http:\/\/o\/big\.iso/);
    expect(text).toMatch(/EVENTS\n[\s\S]*e99\n\n/);
    expect(text).not.toContain(' e0\n');
    expect(lines.at(-1)).toBe('deploy notes v3 -> new version? [y/N]');
  });

  it('uses colour only when the chalk it is given has it', () => {
    expect(renderDashboard(data, view()).join('')).not.toContain('\u001b[');
    expect(renderDashboard(data, view({ chalk: new Chalk({ level: 1 }) })).join('')).toContain('\u001b[');
  });
});

describe('truncate', () => {
  it('counts visible columns only and closes an open colour', () => {
    expect(truncate('abcdef', 3)).toBe('abc');
    expect(truncate('\u001b[31mabcdef\u001b[39m', 2)).toBe('\u001b[31mab\u001b[39m\u001b[0m');
    expect(truncate('\u001b[31mab\u001b[39m', 5)).toBe('\u001b[31mab\u001b[39m');
  });
});

describe('shardRows', () => {
  it('reads services.<name>.shards out of agent.stats, sorted', () => {
    const rows = shardRows({ services: { notes: { state: 'READY', shards: { 'shard-10': { total: 1, rate_1s: 0 }, 'shard-2': { total: 5, rate_1s: 1 } } } }, apps: {} });
    expect(rows).toEqual([
      { service: 'notes', shard: 'shard-2', total: 5, rate_1s: 1 },
      { service: 'notes', shard: 'shard-10', total: 1, rate_1s: 0 },
    ]);
    expect(shardRows({})).toEqual([]);
  });
});
