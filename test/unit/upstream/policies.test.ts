import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProxyJob } from '../../../src/upstream/api.js';
import { defaultPolicy, loadPolicy, shardingPolicy, type SelectionPolicy } from '../../../src/upstream/policies.js';
import { ProxyList } from '../../../src/upstream/proxy-list.js';
import { buildProxyList } from '../../../src/config/proxy-spec.js';
import { DispatcherPool } from '../../../src/upstream/dispatchers.js';
import { UpstreamRouter, type RouterSettings } from '../../../src/upstream/router.js';

const settings: RouterSettings = { timeoutMs: 5000, timeoutDirectMs: 10000, lowSpeedLimit: 1024, backoffInitMs: 2000, backoffMaxMs: 10000, slowRetries: 5, resetAfterMs: 300_000, optimisticReset: false };

function router(spec: string, policy: SelectionPolicy): { list: ProxyList; router: UpstreamRouter } {
  const list = new ProxyList(buildProxyList(spec, ''), { minHealthy: 1 });
  return { list, router: new UpstreamRouter(list, new DispatcherPool({ proxyMs: 5000, directMs: 10000 }), settings, policy) };
}

const job = (key: string): ProxyJob => ({ key, sources: [`http://origin/${key}`], maxRetries: 5, caFile: null, plan: null });
const attempt = (r: UpstreamRouter, j: ProxyJob) => r.attempt(j, j.sources[0]!, 0);
const FOUR = 'http://p0:1|http://p1:1|http://p2:1|http://p3:1';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('default policy', () => {
  it('spreads 10 000 first picks over 4 members within ±15 % of uniform', () => {
    const { router: r } = router(FOUR, defaultPolicy());
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const a = attempt(r, job(`k${i}`));
      counts.set(a.proxy!, (counts.get(a.proxy!) ?? 0) + 1);
    }
    expect(counts.size).toBe(4);
    for (const n of counts.values()) expect(Math.abs(n - 2500)).toBeLessThanOrEqual(375);
  });

  it('tries the other members in a shuffled order, each once, after failures', () => {
    const { router: r } = router(FOUR, defaultPolicy());
    const j = job('x');
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const a = attempt(r, j);
      seen.push(a.proxy!);
      r.reportFailure(j, a, { error: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), bytes: 0 });
    }
    expect(new Set(seen).size).toBe(4);
  });
});

describe('sharding policy', () => {
  it('sends one key to the same proxy every time, over 1 000 keys', () => {
    const { router: r } = router(FOUR, shardingPolicy());
    for (let i = 0; i < 1000; i++) {
      const first = attempt(r, job(`sha-${i}`)).proxy;
      for (let k = 0; k < 3; k++) expect(attempt(r, job(`sha-${i}`)).proxy).toBe(first);
    }
  });

  it('moves only the removed proxy\'s keys (≤ 1/N + 5 %) when one of 4 goes', () => {
    const before = router(FOUR, shardingPolicy()).router;
    const after = router('http://p0:1|http://p1:1|http://p3:1', shardingPolicy()).router;
    let moved = 0;
    for (let i = 0; i < 1000; i++) {
      const a = attempt(before, job(`key-${i}`)).proxy;
      const b = attempt(after, job(`key-${i}`)).proxy;
      if (a !== b) {
        moved++;
        expect(a).toBe('http://p2:1');
      }
    }
    expect(moved / 1000).toBeLessThanOrEqual(0.25 + 0.05);
    expect(moved).toBeGreaterThan(0);
  });

  it('goes to the key\'s next proxy when its own is unhealthy, and back when it recovers', () => {
    const { list, router: r } = router(FOUR, shardingPolicy());
    const owner = attempt(r, job('k')).proxy;
    const p = [...list.proxies()].find((x) => x.address === owner)!;
    list.setHealth(p, false);
    const other = attempt(r, job('k')).proxy;
    expect(other).not.toBe(owner);
    list.setHealth(p, true);
    expect(attempt(r, job('k')).proxy).toBe(owner);
  });
});

describe('custom policy module', () => {
  function moduleFile(source: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'pxc-policy-'));
    dirs.push(dir);
    const file = join(dir, 'policy.mjs');
    writeFileSync(file, source);
    return file;
  }

  it('is loaded from a path and decides the order', async () => {
    const file = moduleFile(`
      export function setPreferredProxy(job) { job.order = job.members.map((_, i) => i).reverse(); job.index = 0; job.data = { calls: 1 }; }
      export function handleFailure(job, error) { job.index += 1; job.data.calls += 1; job.data.last = error.message; }
    `);
    const policy = await loadPolicy(file, '/');
    expect(policy.name).toBe(file);
    const { router: r } = router(FOUR, policy);
    const j = job('a');
    const a = attempt(r, j);
    expect(a.proxy).toBe('http://p3:1');
    r.reportFailure(j, a, { error: Object.assign(new Error('boom'), { code: 'ECONNRESET' }), bytes: 0 });
    expect(attempt(r, j).proxy).toBe('http://p2:1');
  });

  it('resolves a relative path against the base directory', async () => {
    const file = moduleFile('export const setPreferredProxy = () => {}; export const handleFailure = () => {};');
    const policy = await loadPolicy('./policy.mjs', join(file, '..'));
    expect(policy.name).toBe('./policy.mjs');
  });

  it('is refused with a clear error when it does not export both functions', async () => {
    const file = moduleFile('export function setPreferredProxy(job) {}');
    await expect(loadPolicy(file, '/')).rejects.toMatchObject({ code: 'PXC_ERR_BAD_POLICY', message: expect.stringMatching(/must export setPreferredProxy\(job\) and handleFailure\(job, error\); missing: handleFailure/) });
  });

  it('refuses unknown names and unloadable modules', async () => {
    await expect(loadPolicy('round-robin', '/')).rejects.toMatchObject({ code: 'PXC_ERR_BAD_POLICY', message: expect.stringMatching(/unknown proxy policy "round-robin"/) });
    await expect(loadPolicy('/nonexistent/policy.js', '/')).rejects.toMatchObject({ code: 'PXC_ERR_BAD_POLICY', message: expect.stringMatching(/cannot load/) });
  });
});
