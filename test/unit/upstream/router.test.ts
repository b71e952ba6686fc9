import { describe, expect, it } from 'vitest';
import type { ProxyJob } from '../../../src/upstream/api.js';
import { defaultPolicy } from '../../../src/upstream/policies.js';
import { ProxyList, type SwitchEvent } from '../../../src/upstream/proxy-list.js';
import { buildProxyList } from '../../../src/upstream/proxy-spec.js';
import { UpstreamRouter, type RouterSettings } from '../../../src/upstream/router.js';

const base: RouterSettings = { timeoutMs: 5000, timeoutDirectMs: 10000, lowSpeedLimit: 1024, backoffInitMs: 2000, backoffMaxMs: 10000, slowRetries: 5, resetAfterMs: 300_000, optimisticReset: false };
const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

function setup(spec: string, opts: { minHealthy?: number; settings?: Partial<RouterSettings>; fallback?: string } = {}) {
  let now = 1_000_000;
  const switches: SwitchEvent[] = [];
  const list = new ProxyList(buildProxyList(spec, opts.fallback ?? ''), { minHealthy: opts.minHealthy ?? 1, onSwitch: (e) => switches.push(e), now: () => now });
  const router = new UpstreamRouter(list, { ...base, ...opts.settings }, defaultPolicy());
  return { list, router, switches, advance: (ms: number) => (now += ms) };
}
const job = (url = 'http://origin/file'): ProxyJob => ({ key: url, url, plan: null });

describe('router: proxy failures', () => {
  it('moves a job to the other member and marks the failed one unhealthy', () => {
    const { list, router } = setup('http://a:1|http://b:1;DIRECT');
    const j = job();
    const first = router.attempt(j);
    const d = router.reportFailure(j, first, 'proxy', refused());
    expect(d).toMatchObject({ action: 'retry', delayMs: 0 });
    expect(d.reason).toMatch(/ECONNREFUSED/);
    const second = router.attempt(j);
    expect(second.proxy).not.toBe(first.proxy);
    expect(second.proxy).toMatch(/^http:\/\/[ab]:1$/);
    expect([...list.proxies()].find((p) => p.address === first.proxy)!.healthy).toBe(false);
    expect(list.activeGroupIndex).toBe(0);
  });

  it('switches group when all of group 0 dies, with a logged reason, and re-plans the job', () => {
    const { list, router, switches } = setup('http://a:1|http://b:1;DIRECT');
    const j = job('http://origin/x');
    const r0 = list.revision;
    for (let i = 0; i < 2; i++) router.reportFailure(j, router.attempt(j), 'proxy', refused());
    expect(list.activeGroupIndex).toBe(1);
    expect(list.revision).toBeGreaterThan(r0);
    expect(switches).toHaveLength(1);
    expect(switches[0]).toMatchObject({ from: 0, to: 1 });
    expect(switches[0]!.reason).toMatch(/^http:\/\/[ab]:1: ECONNREFUSED while fetching http:\/\/origin\/x$/);
    const a = router.attempt(j);
    expect(a.proxy).toBeNull();
    expect(a.timeoutMs).toBe(10000);
  });

  it('honours min_healthy: with 2 required, losing 2 of 3 members switches', () => {
    const { list, router } = setup('http://a:1|http://b:1|http://c:1;http://d:1', { minHealthy: 2 });
    const j = job();
    router.reportFailure(j, router.attempt(j), 'proxy', refused());
    expect(list.activeGroupIndex).toBe(0);
    router.reportFailure(j, router.attempt(j), 'proxy', refused());
    expect(list.activeGroupIndex).toBe(1);
    expect(router.attempt(j).proxy).toBe('http://d:1');
  });

  it('fails the job once every proxy of every group failed for it', () => {
    const { router } = setup('http://a:1;http://b:1');
    const j = job();
    expect(router.reportFailure(j, router.attempt(j), 'proxy', refused()).action).toBe('retry');
    const d = router.reportFailure(j, router.attempt(j), 'proxy', refused());
    expect(d.action).toBe('fail');
    expect(d.reason).toMatch(/every upstream proxy failed/);
  });

  it('marks a proxy healthy again when a request through it succeeds', () => {
    const { list, router } = setup('http://a:1');
    const p = [...list.proxies()][0]!;
    list.setHealth(p, false);
    const j = job();
    expect(router.attempt(j).proxy).toBe('http://a:1');
    router.reportSuccess(j);
    expect(p.healthy).toBe(true);
  });
});

describe('router: host errors and slow transfers', () => {
  it('does not blame the proxy for an origin error', () => {
    const { list, router } = setup('http://a:1|http://b:1');
    const j = job();
    const a = router.attempt(j);
    const d = router.reportFailure(j, a, 'host', new Error('HTTP 404'));
    expect(d.action).toBe('fail');
    expect([...list.proxies()].every((p) => p.healthy)).toBe(true);
    const p = [...list.proxies()].find((x) => x.address === a.proxy)!;
    expect(p.metrics.failuresHost.value).toBe(1);
    expect(p.metrics.failuresProxy.value).toBe(0);
  });

  it('retries a slow transfer with backoff doubling from backoff_init to backoff_max, then fails', () => {
    const { list, router } = setup('http://a:1');
    const j = job();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = router.reportFailure(j, router.attempt(j), 'slow', new Error('slow'));
      expect(d.action).toBe('retry');
      delays.push(d.delayMs);
    }
    expect(delays).toEqual([2000, 4000, 8000, 10000, 10000]);
    expect(router.reportFailure(j, router.attempt(j), 'slow', new Error('slow')).action).toBe('fail');
    expect([...list.proxies()][0]!.healthy).toBe(true);
    expect([...list.proxies()][0]!.metrics.slow.value).toBe(6);
  });
});

describe('router: revisions and reset_after', () => {
  it('re-makes a job\'s plan at its next request after the list changed', () => {
    const { list, router } = setup('http://a:1');
    const j = job();
    expect(router.attempt(j).proxy).toBe('http://a:1');
    const r = list.revision;
    list.set(buildProxyList('http://b:1;DIRECT', ''));
    expect(list.revision).toBeGreaterThan(r);
    expect(router.attempt(j).proxy).toBe('http://b:1');
  });

  it('returns to group 0 after reset_after when no health checker runs', () => {
    const { list, router, switches, advance } = setup('http://a:1;http://b:1', { settings: { resetAfterMs: 1000, optimisticReset: true } });
    const j = job();
    router.reportFailure(j, router.attempt(j), 'proxy', refused());
    expect(list.activeGroupIndex).toBe(1);
    advance(999);
    router.attempt(job());
    expect(list.activeGroupIndex).toBe(1);
    advance(1);
    expect(router.attempt(job()).proxy).toBe('http://a:1');
    expect(list.activeGroupIndex).toBe(0);
    expect(switches.at(-1)!.reason).toMatch(/reset_after 1 s elapsed on group 1/);
  });

  it('reports the member in use as the active proxy, not the first of the group', () => {
    const { list, router } = setup('http://a:1|http://b:1|http://c:1');
    for (let i = 0; i < 20; i++) {
      const a = router.attempt(job(`u${i}`));
      expect(list.activeProxy().address).toBe(a.proxy);
    }
  });

  it('rebalance clears failure marks and moves the revision', () => {
    const { list, router } = setup('http://a:1|http://b:1');
    const j = job();
    router.reportFailure(j, router.attempt(j), 'proxy', refused());
    const r = list.revision;
    list.rebalance();
    expect([...list.proxies()].every((p) => p.healthy)).toBe(true);
    expect(list.revision).toBeGreaterThan(r);
  });
});
