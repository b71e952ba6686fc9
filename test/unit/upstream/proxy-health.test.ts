import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventPublisher } from '../../../src/control/events.js';
import type { HealthRow, ProxyInfo } from '../../../src/upstream/commands.js';
import type { ProbeResult } from '../../../src/upstream/health-checker.js';
import { closeUpstreams, openUpstream, type Upstream } from './harness.js';

/**
 * The proxy health checker in the upstream subsystem, on a fake clock: check
 * rates, failover and reset_after play out in simulated seconds, with probes
 * that answer as the test says each member is (the real probes against real
 * sockets: test/integration/upstream/health-checker*.test.ts).
 */

const P1 = 'http://127.0.0.1:3128';
const P2 = 'http://127.0.0.1:3129';

/** Members the test has "stopped": their probes are refused. Every probe is logged. */
const down = new Set<string>();
const probes: Array<{ at: number; address: string }> = [];
const probe = async (address: string): Promise<ProbeResult> => {
  probes.push({ at: Date.now(), address });
  return down.has(address) ? { ok: false, latencyMs: 0, error: 'ECONNREFUSED' } : { ok: true, latencyMs: 1, error: null };
};

/** What the subsystem logs, as its messages. */
let logs: string[] = [];
const logger = () => pino({ level: 'info' }, { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) });

beforeEach(() => {
  // setTimeout and Date only: the checker's loop and the list's clock; promises and I/O run as ever.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  down.clear();
  probes.length = 0;
  logs = [];
  events = [];
});

afterEach(async () => {
  await closeUpstreams();
  vi.useRealTimers();
});

/** What the subsystem publishes on the event bus, in order. */
let events: Array<{ topic: string; payload: unknown }> = [];
const publisher: EventPublisher = { publish: (topic, payload) => void events.push({ topic, payload }), wants: () => true };

async function open(proxy: object): Promise<Upstream> {
  return openUpstream({ health_check: true, ...proxy }, { probe }, undefined, true, { logger: logger(), events: publisher });
}

/** Advances the fake clock in 50 ms steps until `cond` holds; resolves the simulated ms it took (throws past `maxMs`). */
async function advanceUntil(what: string, cond: () => boolean | Promise<boolean>, maxMs: number): Promise<number> {
  for (let ms = 0; ms <= maxMs; ms += 50) {
    if (await cond()) return ms;
    await vi.advanceTimersByTimeAsync(50);
  }
  throw new Error(`${what}: not within ${maxMs} simulated ms`);
}

const row = async (u: Upstream, address: string) => (await u.rpc<HealthRow[]>('proxy.health')).find((r) => r.proxy === address)!;
const info = (u: Upstream) => u.rpc<ProxyInfo>('proxy.info');

describe('proxy health checks (fake clock)', () => {
  it('marks a stopped proxy unhealthy within 2 × healthy_check_rate and healthy within 2 × unhealthy_check_rate after it returns', async () => {
    const u = await open({ http_proxy: `${P1}|${P2};DIRECT`, healthy_check_rate: 2, unhealthy_check_rate: 1 });
    // First probes run at start.
    await advanceUntil('first probe of P2', async () => (await row(u, P2)).last_check !== null, 100);
    expect(await row(u, P2)).toMatchObject({ state: 'healthy', group: 0, latency_ms: 1 });

    down.add(P2);
    const toUnhealthy = await advanceUntil('P2 unhealthy', async () => (await row(u, P2)).state === 'unhealthy', 4000);
    expect(toUnhealthy).toBeLessThanOrEqual(2 * 2000);
    expect(toUnhealthy).toBeGreaterThan(0);
    // One member left: the group stays active.
    expect(await info(u)).toMatchObject({ active_group: 0, active_proxy: P1 });

    down.delete(P2);
    const toHealthy = await advanceUntil('P2 healthy again', async () => (await row(u, P2)).state === 'healthy', 2000);
    expect(toHealthy).toBeLessThanOrEqual(2 * 1000);
    const stats = u.stats.snapshot() as { upstream: { proxies: Record<string, { health_transitions: number }> } };
    expect(stats.upstream.proxies[P2]!.health_transitions).toBe(2);
    // Healthy members every 2 s, the unhealthy one every 1 s: about 3 s of probes of P2 at those rates, not more.
    const p2 = probes.filter((p) => p.address === P2).map((p) => p.at);
    for (let i = 1; i < p2.length; i++) expect(p2[i]! - p2[i - 1]!).toBeGreaterThanOrEqual(1000);
  });

  it('switches group when all of group 0 dies, logs why, and goes back after reset_after once group 0 answers', async () => {
    const u = await open({ http_proxy: `${P1};${P2}`, healthy_check_rate: 1, unhealthy_check_rate: 0.5, reset_after: 2 });
    await advanceUntil('first probe of P1', async () => (await row(u, P1)).last_check !== null, 100);
    const r0 = (await info(u)).revision;

    down.add(P1);
    await advanceUntil('switch to group 1', async () => (await info(u)).active_group === 1, 2000);
    const after = await info(u);
    expect(after.revision).toBeGreaterThan(r0);
    expect(after.active_proxy).toBe(P2);
    expect(logs).toContain(`proxy switch: group 0 → 1 (every member of group 0 unhealthy (${P1}: probe ECONNREFUSED))`);

    // Group 0 still down when reset_after passes: the list stays on group 1.
    const stillDown = await advanceUntil('reset_after passes with group 0 down', () => logs.some((l) => l.includes('but group 0 is still down')), 3000);
    expect(stillDown).toBeGreaterThanOrEqual(1900);
    expect((await info(u)).active_group).toBe(1);

    down.delete(P1);
    // The reset clock restarted when group 0 was found down: back within one more reset_after.
    await advanceUntil('back to group 0', async () => (await info(u)).active_group === 0, 3000);
    expect(logs).toContain('proxy switch: group 1 → 0 (reset_after 2 s elapsed on group 1; group 0 answers again)');
    const stats = u.stats.snapshot() as { upstream: { group_switches: number } };
    expect(stats.upstream.group_switches).toBe(2);
    // Subscribers saw the same story as events: P1 down, the switch, P1 back, the switch back.
    expect(events.filter((e) => e.topic.startsWith('proxy.'))).toEqual([
      { topic: 'proxy.health', payload: { proxy: P1, healthy: false, error: 'probe: ECONNREFUSED' } },
      { topic: 'proxy.switch', payload: { from: 0, to: 1, reason: `every member of group 0 unhealthy (${P1}: probe ECONNREFUSED)`, revision: after.revision } },
      { topic: 'proxy.health', payload: { proxy: P1, healthy: true, error: null } },
      { topic: 'proxy.switch', payload: { from: 1, to: 0, reason: 'reset_after 2 s elapsed on group 1; group 0 answers again', revision: expect.any(Number) } },
    ]);
  });

  it('never overlaps probes of one proxy, even when a probe hangs for longer than the check interval', async () => {
    let started = 0;
    let aborted = 0;
    // Hangs for 2.5 s (the probe's own timeout), then fails; the loop passes every 20 ms meanwhile.
    const hanging = (_address: string, signal: AbortSignal) =>
      new Promise<ProbeResult>((resolve) => {
        started++;
        const onAbort = () => {
          aborted++;
          clearTimeout(t);
          resolve({ ok: false, latencyMs: 0, error: 'aborted' });
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve({ ok: false, latencyMs: 2500, error: 'ETIMEDOUT' });
        }, 2500);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    const u = await openUpstream({ health_check: true, http_proxy: P1, healthy_check_rate: 0.02, unhealthy_check_rate: 0.02 }, { probe: hanging });
    await vi.advanceTimersByTimeAsync(2400);
    expect(started).toBe(1);
    expect((await row(u, P1)).last_check).toBeNull();
    await advanceUntil('the hanging probe times out', async () => (await row(u, P1)).state === 'unhealthy', 200);
    expect(await row(u, P1)).toMatchObject({ last_error: 'probe: ETIMEDOUT' });
    // The next probe starts only after it (at the loop's next pass, at most 1 s on): one more in flight, stopped with the subsystem.
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toBe(2);
    await u.close();
    expect(aborted).toBe(1);
  });
});
