import { describe, expect, it } from 'vitest';
import { Balancer, balanceOrder, balanceTable, rendezvous, swrrSchedule } from '../../../src/forward/balancer.js';

const t = (address: string, active = 0) => ({ address, active });
type T = ReturnType<typeof t>;
const uniform = (targets: T[]) => balanceTable(targets, targets.map(() => 1));

describe('Balancer', () => {
  const targets = [t('a:1'), t('b:1'), t('c:1')];

  it('round-robin starts each connection at the next target and falls back in order', () => {
    const b = new Balancer<T>('round-robin');
    const firsts = Array.from({ length: 6 }, () => b.order(uniform(targets), 'x').map((x) => x.address));
    expect(firsts.map((o) => o[0])).toEqual(['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1']);
    expect(firsts[1]).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('random picks every target eventually and always returns all of them', () => {
    const b = new Balancer<T>('random');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const o = b.order(uniform(targets), 'x');
      expect(o.map((x) => x.address).sort()).toEqual(['a:1', 'b:1', 'c:1']);
      seen.add(o[0]!.address);
    }
    expect(seen.size).toBe(3);
  });

  it('least-conn picks the target with the fewest open connections', () => {
    const b = new Balancer<T>('least-conn');
    const busy = [t('a:1', 5), t('b:1', 1), t('c:1', 3)];
    for (let i = 0; i < 5; i++) expect(b.order(uniform(busy), 'x').map((x) => x.address)).toEqual(['b:1', 'c:1', 'a:1']);
  });

  it('least-conn shares ties round-robin', () => {
    const b = new Balancer<T>('least-conn');
    const firsts = Array.from({ length: 3 }, () => b.order(uniform(targets), 'x')[0]!.address);
    expect(new Set(firsts).size).toBe(3);
  });

  it('sharding sends one client to one target, and removing another target does not move it', () => {
    const b = new Balancer<T>('sharding');
    const many = Array.from({ length: 8 }, (_, i) => t(`10.0.0.${i}:80`));
    const clients = Array.from({ length: 200 }, (_, i) => `192.168.${i >> 8}.${i & 255}`);
    const before = new Map(clients.map((c) => [c, b.order(uniform(many), c)[0]!.address]));
    for (const c of clients) expect(b.order(uniform(many), c)[0]!.address).toBe(before.get(c));
    const removed = '10.0.0.3:80';
    const fewer = many.filter((x) => x.address !== removed);
    let moved = 0;
    for (const c of clients) {
      const now = b.order(uniform(fewer), c)[0]!.address;
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

describe('weights', () => {
  it('smooth weighted round-robin interleaves 3:1 as a a b a, not a burst', () => {
    expect(Array.from(swrrSchedule([3, 1]))).toEqual([0, 0, 1, 0]);
    expect(Array.from(swrrSchedule([5, 1, 1]))).toEqual([0, 0, 1, 0, 2, 0, 0]);
    // Equal weights are plain rotation; a common factor is divided out.
    expect(Array.from(swrrSchedule([1, 1, 1]))).toEqual([0, 1, 2]);
    expect(Array.from(swrrSchedule([4, 4]))).toEqual([0, 1]);
    expect(Array.from(swrrSchedule([6, 2]))).toEqual(Array.from(swrrSchedule([3, 1])));
  });

  it('round-robin gives each target its weight’s share, and no target more than its share in a row', () => {
    const targets = [t('a:1'), t('b:1'), t('c:1')];
    const table = balanceTable(targets, [3, 1, 2]);
    const b = new Balancer<T>('round-robin');
    const picks = Array.from({ length: 600 }, () => b.order(table, '')[0]!.address);
    expect(['a:1', 'b:1', 'c:1'].map((a) => picks.filter((p) => p === a).length)).toEqual([300, 100, 200]);
    let run = 1;
    let longest = 1;
    for (let i = 1; i < picks.length; i++) longest = Math.max(longest, (run = picks[i] === picks[i - 1] ? run + 1 : 1));
    expect(longest).toBe(2);
  });

  it('a new snapshot with the same weights reuses the schedule; other weights make a new one', () => {
    const targets = [t('a:1'), t('b:1')];
    const first = balanceTable(targets, [3, 1]);
    expect(balanceTable([t('c:1'), t('d:1')], [3, 1], first).schedule).toBe(first.schedule);
    expect(Array.from(balanceTable(targets, [1, 3], first).schedule)).toEqual([1, 0, 1, 1]);
    expect(balanceTable(targets.slice(0, 1), [3], first).schedule).not.toBe(first.schedule);
  });

  it('a failed choice falls back to the other targets, each once', () => {
    const targets = [t('a:1'), t('b:1'), t('c:1')];
    const table = balanceTable(targets, [3, 1, 2]);
    for (let k = 0; k < 6; k++) expect(balanceOrder('round-robin', table, k, '').sort()).toEqual([0, 1, 2]);
  });

  it('random picks in proportion to the weights', () => {
    const targets = [t('a:1'), t('b:1')];
    const table = balanceTable(targets, [3, 1]);
    const b = new Balancer<T>('random');
    let a = 0;
    for (let i = 0; i < 8000; i++) if (b.order(table, '')[0]!.address === 'a:1') a++;
    expect(a / 8000).toBeGreaterThan(0.72);
    expect(a / 8000).toBeLessThan(0.78);
  });

  it('least-conn picks the lowest (active + 1) / weight, as HAProxy', () => {
    // a: (5+1)/3 = 2, b: (1+1)/1 = 2, c: (2+1)/4 = 0.75
    const busy = [t('a:1', 5), t('b:1', 1), t('c:1', 2)];
    expect(balanceOrder('least-conn', balanceTable(busy, [3, 1, 4]), 0, '').map((i) => busy[i]!.address)).toEqual(['c:1', 'a:1', 'b:1']);
    // Idle targets: the heaviest first.
    const idle = [t('a:1'), t('b:1'), t('c:1')];
    expect(balanceOrder('least-conn', balanceTable(idle, [1, 5, 2]), 0, '')[0]).toBe(1);
  });

  it('sharding gives each target a key share proportional to its weight, and a weight change moves only some keys', () => {
    const targets = [t('10.0.0.1:80'), t('10.0.0.2:80'), t('10.0.0.3:80')];
    const keys = Array.from({ length: 6000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const share = (weights: number[]) => {
      const table = balanceTable(targets, weights);
      return keys.map((k) => balanceOrder('sharding', table, 0, k)[0]!);
    };
    const before = share([1, 1, 2]);
    const counts = [0, 1, 2].map((i) => before.filter((x) => x === i).length / keys.length);
    expect(counts[0]).toBeCloseTo(0.25, 1);
    expect(counts[1]).toBeCloseTo(0.25, 1);
    expect(counts[2]).toBeCloseTo(0.5, 1);
    // Raising target 0's weight only moves keys onto it, never between the others.
    const after = share([2, 1, 2]);
    for (let i = 0; i < keys.length; i++) if (after[i] !== before[i]) expect(after[i]).toBe(0);
  });
});
