import { describe, expect, it } from 'vitest';
import { Balancer, rendezvous } from '../../../src/forward/balancer.js';

const t = (address: string, active = 0) => ({ address, active });

describe('Balancer', () => {
  const targets = [t('a:1'), t('b:1'), t('c:1')];

  it('round-robin starts each connection at the next target and falls back in order', () => {
    const b = new Balancer<ReturnType<typeof t>>('round-robin');
    const firsts = Array.from({ length: 6 }, () => b.order(targets, 'x').map((x) => x.address));
    expect(firsts.map((o) => o[0])).toEqual(['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
    expect(firsts[1]).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('random picks every target eventually and always returns all of them', () => {
    const b = new Balancer<ReturnType<typeof t>>('random');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const o = b.order(targets, 'x');
      expect(o.map((x) => x.address).sort()).toEqual(['a:1', 'b:1', 'c:1']);
      seen.add(o[0]!.address);
    }
    expect(seen.size).toBe(3);
  });

  it('least-conn picks the target with the fewest open connections', () => {
    const b = new Balancer<ReturnType<typeof t>>('least-conn');
    const busy = [t('a:1', 5), t('b:1', 1), t('c:1', 3)];
    for (let i = 0; i < 5; i++) expect(b.order(busy, 'x').map((x) => x.address)).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('least-conn shares ties round-robin', () => {
    const b = new Balancer<ReturnType<typeof t>>('least-conn');
    const firsts = Array.from({ length: 3 }, () => b.order(targets, 'x')[0]!.address);
    expect(new Set(firsts).size).toBe(3);
  });

  it('sharding sends one client to one target, and removing another target does not move it', () => {
    const b = new Balancer<ReturnType<typeof t>>('sharding');
    const many = Array.from({ length: 8 }, (_, i) => t(`10.0.0.${i}:80`));
    const clients = Array.from({ length: 200 }, (_, i) => `192.168.${i >> 8}.${i & 255}`);
    const before = new Map(clients.map((c) => [c, b.order(many, c)[0]!.address]));
    for (const c of clients) expect(b.order(many, c)[0]!.address).toBe(before.get(c));
    const removed = '10.0.0.3:80';
    const fewer = many.filter((x) => x.address !== removed);
    let moved = 0;
    for (const c of clients) {
      const now = b.order(fewer, c)[0]!.address;
      if (before.get(c) !== removed) expect(now).toBe(before.get(c));
      else moved++;
    }
    expect(moved).toBeGreaterThan(0);
    // Every target gets some share.
    expect(new Set(before.values()).size).toBe(8);
  });

  it('rendezvous order is a permutation', () => {
    expect(rendezvous(targets, 'k').map((x) => x.address).sort()).toEqual(['a:1', 'b:1', 'c:1']);
  });
});
