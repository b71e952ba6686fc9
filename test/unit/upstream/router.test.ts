import { describe, expect, it } from 'vitest';
import type { FailureEvidence, ProxyJob } from '../../../src/upstream/api.js';
import { DispatcherPool } from '../../../src/upstream/dispatchers.js';
import { defaultPolicy, shardingPolicy, type SelectionPolicy } from '../../../src/upstream/policies.js';
import { ProxyList, type SwitchEvent } from '../../../src/upstream/proxy-list.js';
import { buildProxyList } from '../../../src/config/proxy-spec.js';
import { UpstreamRouter, type RouterSettings } from '../../../src/upstream/router.js';

const base: RouterSettings = { timeoutMs: 5000, timeoutDirectMs: 10000, lowSpeedLimit: 1024, backoffInitMs: 2000, backoffMaxMs: 10000, slowRetries: 5, resetAfterMs: 300_000, optimisticReset: false };
const refused = (): FailureEvidence => ({ error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), bytes: 0 });
const status = (s: number, headers: Record<string, string> = {}, bytes = 0): FailureEvidence => ({ status: s, headers, bytes });

function setup(spec: string, opts: { minHealthy?: number; settings?: Partial<RouterSettings>; fallback?: string; policy?: SelectionPolicy } = {}) {
  let now = 1_000_000;
  const switches: SwitchEvent[] = [];
  const list = new ProxyList(buildProxyList(spec, opts.fallback ?? ''), { minHealthy: opts.minHealthy ?? 1, onSwitch: (e) => switches.push(e), now: () => now });
  const router = new UpstreamRouter(list, new DispatcherPool({ proxyMs: 5000, directMs: 10000 }), { ...base, ...opts.settings }, opts.policy ?? defaultPolicy());
  const health = (address: string) => [...list.proxies()].find((p) => p.address === address)!.healthy;
  return { list, router, switches, health, advance: (ms: number) => (now += ms) };
}
const job = (sources: string[] = ['http://origin/file'], maxRetries = 5): ProxyJob => ({ key: sources[0]!, sources, maxRetries, caFile: null, plan: null });
const URL0 = 'http://origin/file';

describe('router: proxy failures', () => {
  it('moves a job to the other member and marks the failed one unhealthy', () => {
    const { list, router, health } = setup('http://a:1|http://b:1;DIRECT');
    const j = job();
    const first = router.attempt(j, URL0, 0);
    const d = router.reportFailure(j, first, refused());
    expect(d).toMatchObject({ action: 'retry', delayMs: 0, blame: 'proxy' });
    expect(d.reason).toMatch(/ECONNREFUSED/);
    const second = router.attempt(j, URL0, 0);
    expect(second.proxy).not.toBe(first.proxy);
    expect(second.proxy).toMatch(/^http:\/\/[ab]:1$/);
    expect(health(first.proxy!)).toBe(false);
    expect(list.activeGroupIndex).toBe(0);
  });

  it('switches group when all of group 0 dies, with a logged reason, and re-plans the job', () => {
    const { list, router, switches } = setup('http://a:1|http://b:1;DIRECT');
    const j = job(['http://origin/x']);
    const r0 = list.revision;
    for (let i = 0; i < 2; i++) router.reportFailure(j, router.attempt(j, 'http://origin/x', 0), refused());
    expect(list.activeGroupIndex).toBe(1);
    expect(list.revision).toBeGreaterThan(r0);
    expect(switches).toHaveLength(1);
    expect(switches[0]).toMatchObject({ from: 0, to: 1 });
    expect(switches[0]!.reason).toMatch(/^http:\/\/[ab]:1: ECONNREFUSED while fetching http:\/\/origin\/x$/);
    const a = router.attempt(j, 'http://origin/x', 0);
    expect(a.proxy).toBeNull();
    expect(a.timeoutMs).toBe(10000);
  });

  it('honours min_healthy: with 2 required, losing 2 of 3 members switches', () => {
    const { list, router } = setup('http://a:1|http://b:1|http://c:1;http://d:1', { minHealthy: 2 });
    const j = job();
    router.reportFailure(j, router.attempt(j, URL0, 0), refused());
    expect(list.activeGroupIndex).toBe(0);
    router.reportFailure(j, router.attempt(j, URL0, 0), refused());
    expect(list.activeGroupIndex).toBe(1);
    expect(router.attempt(j, URL0, 0).proxy).toBe('http://d:1');
  });

  it('once every proxy failed, starts new rounds after the backoff up to max_retries, then fails with "no proxy left"', () => {
    const { router } = setup('http://a:1;http://b:1');
    const j = job([URL0], 1);
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), refused())).toMatchObject({ action: 'retry', delayMs: 0 });
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), refused())).toMatchObject({ action: 'retry', delayMs: 2000 });
    router.reportFailure(j, router.attempt(j, URL0, 0), refused());
    const d = router.reportFailure(j, router.attempt(j, URL0, 0), refused());
    expect(d.action).toBe('fail');
    expect(d.reason).toMatch(/no proxy left after 1 retries: every upstream proxy failed for this job; last http:\/\/[ab]:1: ECONNREFUSED/);
  });

  it('marks a proxy healthy again when a request through it succeeds', () => {
    const { list, router } = setup('http://a:1');
    const p = [...list.proxies()][0]!;
    list.setHealth(p, false);
    const j = job();
    const a = router.attempt(j, URL0, 0);
    expect(a.proxy).toBe('http://a:1');
    router.reportSuccess(j, a);
    expect(p.healthy).toBe(true);
  });

  it('hands out one pool per member, the same for every job and lane', () => {
    const { router } = setup('http://a:1|http://b:1', { policy: shardingPolicy() });
    const a = router.attempt(job(), URL0, 0);
    const b = router.attempt(job(), URL0, 3);
    expect(b.proxy).toBe(a.proxy);
    expect(b.dispatcher).toBe(a.dispatcher);
  });
});

describe('router: connections of one job', () => {
  it('spreads the lanes of a job over the members under the default policy', () => {
    const { router } = setup('http://a:1|http://b:1|http://c:1');
    const j = job();
    const proxies = [0, 1, 2].map((lane) => router.attempt(j, URL0, lane).proxy);
    expect(new Set(proxies).size).toBe(3);
  });

  it('sends every lane of a job to its one proxy under sharding (cache locality)', () => {
    const { router } = setup('http://a:1|http://b:1|http://c:1', { policy: shardingPolicy() });
    const j = job();
    const proxies = [0, 1, 2, 3].map((lane) => router.attempt(j, URL0, lane).proxy);
    expect(new Set(proxies).size).toBe(1);
  });

  it('counts failures of lanes that were in flight together once', () => {
    const { router } = setup('DIRECT');
    const j = job([URL0], 5);
    const attempts = [0, 1, 2, 3].map((lane) => router.attempt(j, URL0, lane));
    const delays = attempts.map((a) => router.reportFailure(j, a, status(503)).delayMs);
    expect(delays).toEqual([2000, 2000, 2000, 2000]);
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), status(503)).delayMs).toBe(4000);
  });
});

describe('router: host failures', () => {
  it('does not blame the proxy for an origin 404, and gives up at once', () => {
    const { list, router } = setup('http://a:1|http://b:1');
    const j = job();
    const a = router.attempt(j, URL0, 0);
    const d = router.reportFailure(j, a, status(404));
    expect(d).toMatchObject({ action: 'fail', blame: 'host' });
    expect(d.reason).toMatch(/^HTTP 404 from origin via http:\/\/[ab]:1$/);
    expect([...list.proxies()].every((p) => p.healthy)).toBe(true);
    const p = [...list.proxies()].find((x) => x.address === a.proxy)!;
    expect(p.metrics.failuresHost.value).toBe(1);
    expect(p.metrics.failuresProxy.value).toBe(0);
  });

  it('retries an origin 5xx with one backoff, doubling from backoff_init to backoff_max, then gives up', () => {
    const { router } = setup('DIRECT');
    const j = job([URL0], 5);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = router.reportFailure(j, router.attempt(j, URL0, 0), status(503));
      expect(d.action).toBe('retry');
      delays.push(d.delayMs);
    }
    expect(delays).toEqual([2000, 4000, 8000, 10000, 10000]);
    const d = router.reportFailure(j, router.attempt(j, URL0, 0), status(503));
    expect(d).toMatchObject({ action: 'fail' });
    expect(d.reason).toMatch(/gave up after 5 retries: HTTP 503 from origin/);
  });

  it('resets the retry count when an attempt made progress, and retries it at once', () => {
    const { router } = setup('DIRECT');
    const j = job([URL0], 2);
    const cut = (): FailureEvidence => ({ error: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), bytes: 25 * 1024 * 1024 });
    for (let i = 0; i < 50; i++) expect(router.reportFailure(j, router.attempt(j, URL0, 0), cut())).toMatchObject({ action: 'retry', delayMs: 0 });
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), status(503)).delayMs).toBe(2000);
  });

  it('skips a failing mirror while others remain, and fails with the last one', () => {
    const { router } = setup('DIRECT');
    const j = job(['http://m1/f', 'http://m2/f']);
    expect(router.reportFailure(j, router.attempt(j, 'http://m1/f', 0), refused())).toMatchObject({ action: 'skip-source', blame: 'host' });
    const one = job(['http://m2/f'], 0);
    expect(router.reportFailure(one, router.attempt(one, 'http://m2/f', 0), refused())).toMatchObject({ action: 'fail' });
  });

  it("keeps squid healthy when it reports the origin's failure (ERR_CONNECT_FAIL, ERR_DNS_FAIL, ERR_READ_TIMEOUT)", () => {
    const { router, health, list } = setup('http://squid:3128;DIRECT');
    for (const kind of ['ERR_CONNECT_FAIL 111', 'ERR_DNS_FAIL 0', 'ERR_READ_TIMEOUT 0']) {
      const j = job();
      const d = router.reportFailure(j, router.attempt(j, URL0, 0), status(503, { 'x-squid-error': kind }));
      expect(d).toMatchObject({ action: 'retry', blame: 'host', delayMs: 2000 });
    }
    expect(health('http://squid:3128')).toBe(true);
    expect(list.activeGroupIndex).toBe(0);
  });

  it("blames squid for its own errors (ERR_ACCESS_DENIED) and fails over", () => {
    const { router, health, list } = setup('http://squid:3128;DIRECT');
    const j = job();
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), status(403, { 'x-squid-error': 'ERR_ACCESS_DENIED 0' }))).toMatchObject({ action: 'retry', blame: 'proxy', delayMs: 0 });
    expect(health('http://squid:3128')).toBe(false);
    expect(list.activeGroupIndex).toBe(1);
  });

  it('reads RFC 9209 Proxy-Status: destination_*, dns_*, connection_refused, connection_timeout are the host', () => {
    const { router, health } = setup('http://p:1;DIRECT');
    for (const [value, blame] of [
      ['p; error=destination_unavailable', 'host'],
      ['p; error=dns_timeout; rcode=SERVFAIL', 'host'],
      ['p; error=connection_refused', 'host'],
      ['"p"; error="connection_timeout"', 'host'],
      ['origin-side, p; error=proxy_internal_error', 'proxy'],
    ] as const) {
      const j = job();
      expect(router.reportFailure(j, router.attempt(j, URL0, 0), status(502, { 'proxy-status': value })).blame, value).toBe(blame);
    }
    expect(health('http://p:1')).toBe(false);
  });

  it('blames the host, not the group, when one URL failed through every member with a bare 502', () => {
    const { router, health, list, switches } = setup('http://a:1|http://b:1;DIRECT');
    const j = job([URL0], 5);
    const first = router.reportFailure(j, router.attempt(j, URL0, 0), status(502));
    expect(first).toMatchObject({ action: 'retry', blame: 'proxy', delayMs: 0 });
    const second = router.reportFailure(j, router.attempt(j, URL0, 0), status(502));
    expect(second).toMatchObject({ action: 'retry', blame: 'host', delayMs: 2000 });
    expect(second.reason).toMatch(/through every member of group 0/);
    expect(health('http://a:1') && health('http://b:1')).toBe(true);
    expect(list.activeGroupIndex).toBe(0);
    expect(switches).toEqual([]);
  });

  it('still blames a lone proxy for a bare 502 (cvmfs: a proxy error)', () => {
    const { router, health } = setup('http://a:1;DIRECT');
    const j = job();
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), status(502)).blame).toBe('proxy');
    expect(health('http://a:1')).toBe(false);
  });

  it('fails at once on a TLS verification error, naming --ca-file', () => {
    const { router } = setup('DIRECT');
    const tls = (): FailureEvidence => ({ error: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), bytes: 0 });
    const j = job(['https://origin/f'], 5);
    const d = router.reportFailure(j, router.attempt(j, 'https://origin/f', 0), tls());
    expect(d).toMatchObject({ action: 'fail', blame: 'tls', delayMs: 0 });
    expect(d.reason).toMatch(/TLS certificate of origin not trusted: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\).*--ca-file PATH/);
    const m = job(['https://origin/f', 'https://other/f']);
    expect(router.reportFailure(m, router.attempt(m, 'https://origin/f', 0), tls()).action).toBe('skip-source');
  });
});

describe('router: slow transfers', () => {
  it('retries a slow transfer with the backoff, then gives up on the source, never blaming the proxy', () => {
    const { list, router } = setup('http://a:1');
    const j = job();
    const slow = (): FailureEvidence => ({ error: new Error('slow'), slow: true, bytes: 100 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d = router.reportFailure(j, router.attempt(j, URL0, 0), slow());
      expect(d.action).toBe('retry');
      delays.push(d.delayMs);
    }
    expect(delays).toEqual([2000, 4000, 8000, 10000, 10000]);
    expect(router.reportFailure(j, router.attempt(j, URL0, 0), slow()).action).toBe('fail');
    expect([...list.proxies()][0]!.healthy).toBe(true);
    expect([...list.proxies()][0]!.metrics.slow.value).toBe(6);
  });
});

describe('router: revisions and reset_after', () => {
  it("re-makes a job's plan at its next request after the list changed", () => {
    const { list, router } = setup('http://a:1');
    const j = job();
    expect(router.attempt(j, URL0, 0).proxy).toBe('http://a:1');
    const r = list.revision;
    list.set(buildProxyList('http://b:1;DIRECT', ''));
    expect(list.revision).toBeGreaterThan(r);
    expect(router.attempt(j, URL0, 0).proxy).toBe('http://b:1');
  });

  it('returns to group 0 after reset_after when no health checker runs', () => {
    const { list, router, switches, advance } = setup('http://a:1;http://b:1', { settings: { resetAfterMs: 1000, optimisticReset: true } });
    const j = job();
    router.reportFailure(j, router.attempt(j, URL0, 0), refused());
    expect(list.activeGroupIndex).toBe(1);
    advance(999);
    router.attempt(job(), URL0, 0);
    expect(list.activeGroupIndex).toBe(1);
    advance(1);
    expect(router.attempt(job(), URL0, 0).proxy).toBe('http://a:1');
    expect(list.activeGroupIndex).toBe(0);
    expect(switches.at(-1)!.reason).toMatch(/reset_after 1 s elapsed on group 1/);
  });

  it('reports the member in use as the active proxy, not the first of the group', () => {
    const { list, router } = setup('http://a:1|http://b:1|http://c:1');
    for (let i = 0; i < 20; i++) {
      const a = router.attempt(job([`http://o/u${i}`]), `http://o/u${i}`, 0);
      expect(list.activeProxy().address).toBe(a.proxy);
    }
  });

  it('rebalance clears failure marks and moves the revision', () => {
    const { list, router } = setup('http://a:1|http://b:1');
    const j = job();
    router.reportFailure(j, router.attempt(j, URL0, 0), refused());
    const r = list.revision;
    list.rebalance();
    expect([...list.proxies()].every((p) => p.healthy)).toBe(true);
    expect(list.revision).toBeGreaterThan(r);
  });
});
