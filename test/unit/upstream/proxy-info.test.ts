import { afterEach, describe, expect, it } from 'vitest';
import type { HealthRow, ProxyInfo } from '../../../src/upstream/commands.js';
import { cleanupAgents, tempDir } from '../../helpers/agent.js';
import { closeUpstreams, openUpstream, type Upstream } from './harness.js';

/** What `proxy info` and `proxy health` tell beyond the groups: states, addresses, the reset_after countdown, the revision. */

afterEach(async () => {
  await closeUpstreams();
  await cleanupAgents();
});

const info = (u: Upstream) => u.rpc<ProxyInfo>('proxy.info');
const member = (i: ProxyInfo, address: string) => i.groups.flatMap((g) => g.proxies).find((p) => p.address === address)!;

describe('a proxy nobody has checked yet', () => {
  it('shows unknown, not healthy, until a probe or a request gives a verdict', async () => {
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9|http://127.0.0.1:10;DIRECT' });
    expect(member(await info(u), 'http://127.0.0.1:9').state).toBe('unknown');
    expect((await u.rpc<HealthRow[]>('proxy.health')).map((r) => r.state)).toEqual(['unknown', 'unknown', 'direct']);
    expect(await u.talk('proxy info')).toContain('[0] http://127.0.0.1:9 (unknown, 127.0.0.1), http://127.0.0.1:10 (unknown, 127.0.0.1)\n[1] DIRECT\n');

    const list = u.sub.list;
    const [nine, ten] = list.groups[0]!.proxies;
    list.setHealth(nine!, true); // a probe answered
    list.setHealth(ten!, false); // a request failed
    expect((await u.rpc<HealthRow[]>('proxy.health')).map((r) => r.state)).toEqual(['healthy', 'unhealthy', 'direct']);

    // rebalance clears a failure mark: that is no verdict, so unknown again; a checked healthy proxy stays healthy
    expect(await u.rpc('proxy.rebalance')).toEqual({ revision: u.sub.list.revision });
    expect((await u.rpc<HealthRow[]>('proxy.health')).map((r) => r.state)).toEqual(['healthy', 'unknown', 'direct']);
  });
});

describe('a request through an unchecked proxy', () => {
  it("makes it healthy when the proxy answered, even with the origin's error", async () => {
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9;DIRECT' });
    const url = 'http://origin.example/missing';
    const job = { key: url, sources: [url], maxRetries: 3, caFile: null, plan: null };
    const attempt = u.sub.router.attempt(job, url, 0);
    expect(attempt.proxy).toBe('http://127.0.0.1:9');
    expect(u.sub.router.reportFailure(job, attempt, { status: 404, bytes: 0 }).blame).toBe('host');
    expect((await u.rpc<HealthRow[]>('proxy.health'))[0]).toMatchObject({ proxy: 'http://127.0.0.1:9', state: 'healthy' });
  });
});

describe("each member's addresses", () => {
  it('are looked up once, cached, and looked up again on proxy rebalance', async () => {
    const answers: Record<string, string[]> = { 'squid.example': ['192.0.2.10', '2001:db8::10'] };
    let lookups = 0;
    const lookup = async (host: string) => {
      lookups++;
      const a = answers[host];
      if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return a;
    };
    const u = await openUpstream({ http_proxy: 'http://squid.example:3128|http://gone.example:3128;DIRECT' }, { lookup });
    let i = await info(u);
    expect(member(i, 'http://squid.example:3128')).toMatchObject({ addresses: ['192.0.2.10', '2001:db8::10'], address_error: null });
    expect(member(i, 'http://gone.example:3128')).toMatchObject({ addresses: null, address_error: 'ENOTFOUND' });
    expect(member(i, 'DIRECT')).toMatchObject({ addresses: null, address_error: null });
    expect(await u.talk('proxy info')).toContain('[0] http://squid.example:3128 (unknown, 192.0.2.10 2001:db8::10), http://gone.example:3128 (unknown, unresolved: ENOTFOUND)\n');
    await info(u);
    expect(lookups).toBe(2);

    answers['squid.example'] = ['192.0.2.11'];
    answers['gone.example'] = ['192.0.2.12'];
    expect(member(await info(u), 'http://squid.example:3128').addresses).toEqual(['192.0.2.10', '2001:db8::10']);
    await u.rpc('proxy.rebalance');
    i = await info(u);
    expect(member(i, 'http://squid.example:3128').addresses).toEqual(['192.0.2.11']);
    expect(member(i, 'http://gone.example:3128').addresses).toEqual(['192.0.2.12']);
  });
});

describe('on a later group', () => {
  it('proxy info counts down the seconds before reset_after returns to group 0', async () => {
    let now = 1_000_000;
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9;http://127.0.0.1:10', reset_after: 300 }, { now: () => now });
    expect((await info(u)).reset_in_s).toBeNull();
    expect(await u.talk('proxy info')).not.toContain('Back to group 0');
    await u.rpc('proxy.switch');
    expect((await info(u)).reset_in_s).toBe(300);
    now += 120_500;
    expect((await info(u)).reset_in_s).toBe(180);
    expect(await u.talk('proxy info')).toContain('Active proxy: [1] http://127.0.0.1:10\nBack to group 0 in: 180 s (reset_after, if group 0 answers then)\n');
    now += 500_000;
    expect((await info(u)).reset_in_s).toBe(0);
  });
});

describe('the revision', () => {
  it('survives a restart: it continues, never starting again from 1', async () => {
    const dir = tempDir();
    const u = await openUpstream({ http_proxy: 'http://127.0.0.1:9;DIRECT' }, {}, dir);
    await u.talk('proxy set http://127.0.0.1:11;DIRECT');
    await u.talk('proxy group switch');
    await u.talk('proxy group switch');
    const before = (await info(u)).revision;
    expect(before).toBeGreaterThanOrEqual(4);
    const again = await u.restart();
    const after = (await info(again)).revision;
    expect(after).toBeGreaterThan(before);
    expect(await again.talk('proxy info')).toContain(`Revision: ${after}\n`);
  });
});
