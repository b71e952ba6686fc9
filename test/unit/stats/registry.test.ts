import { afterEach, describe, expect, it } from 'vitest';
import { MovingRate } from '../../../src/stats/moving-rate.js';
import { StatsRegistry } from '../../../src/stats/registry.js';

const registries: StatsRegistry[] = [];
afterEach(() => registries.splice(0).forEach((r) => r.close()));
function registry(): StatsRegistry {
  const r = new StatsRegistry();
  registries.push(r);
  return r;
}

describe('MovingRate', () => {
  it('reports the last closed second and the mean of the last ten', () => {
    const r = new MovingRate();
    expect(r.rate1s()).toBe(0);
    for (let s = 1; s <= 12; s++) {
      r.mark(s * 10);
      r.tick();
    }
    expect(r.rate1s()).toBe(120);
    // seconds 3..12 → (30+…+120)/10
    expect(r.rate10s()).toBe(75);
    expect(r.total).toBe(780);
  });

  it('averages over the seconds seen so far right after start', () => {
    const r = new MovingRate();
    r.mark(4);
    r.tick();
    r.mark(2);
    r.tick();
    expect(r.rate10s()).toBe(3);
  });
});

describe('StatsRegistry', () => {
  it('nests the snapshot by scope path and label values', () => {
    const stats = registry();
    const app = stats.scope('apps', { app: 'echo' });
    app.counter('msg_req', 'REQ messages').inc(3);
    app.gauge('conns', 'open', () => 7);
    const rate = app.rate('request_rate', 'REQ/s');
    rate.mark(5);
    rate.tick();
    stats.scope('control').counter('connections', 'accepted').inc();
    expect(stats.snapshot()).toEqual({
      apps: { echo: { msg_req: 3, conns: 7, request_rate_1s: 5, request_rate_10s: 5 } },
      control: { connections: 1 },
    });
  });

  it('drops a removed scope and nothing else', () => {
    const stats = registry();
    stats.scope('apps', { app: 'a' }).counter('x', '').inc();
    stats.scope('apps', { app: 'ab' }).counter('x', '').inc();
    stats.scope('apps', { app: 'a' }).remove();
    expect(stats.snapshot()).toEqual({ apps: { ab: { x: 1 } } });
  });
});
