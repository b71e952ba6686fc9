import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventBus, resolveTopics, SocketSubscriber, type BusEvent, type EventOutput } from '../../../src/control/events.js';
import { StatsRegistry } from '../../../src/stats/registry.js';

const buses: EventBus[] = [];
function bus(now?: () => number): EventBus {
  const b = new EventBus({ now });
  buses.push(b);
  return b;
}

afterEach(() => {
  for (const b of buses.splice(0)) b.close();
  vi.useRealTimers();
});

const exit = { service: 'notes', version: 1, instance: 0, pid: 9, code: null, signal: 'SIGKILL', error: null, action: 'restart' as const, restarts: 1, delay_ms: 100 };

describe('the event bus', () => {
  it('delivers an event to the subscribers of its topic as one JSON-RPC notification line, with topic, time and seq', () => {
    const b = bus(() => Date.UTC(2026, 0, 2, 3, 4, 5));
    const got: Array<[string, BusEvent]> = [];
    const other: BusEvent[] = [];
    b.subscribe(['service.exit'], (line, e) => got.push([line, e]));
    b.subscribe(['deploy.phase'], (_l, e) => other.push(e));
    b.publish('service.exit', exit);
    expect(got).toHaveLength(1);
    const [line, event] = got[0]!;
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({ jsonrpc: '2.0', method: 'event', params: { topic: 'service.exit', time: '2026-01-02T03:04:05.000Z', seq: 1, ...exit } });
    expect(event).toMatchObject({ topic: 'service.exit', seq: 1, service: 'notes' });
    expect(other).toEqual([]);
  });

  it('says whether anyone wants a topic, and stops delivering after unsubscribe', () => {
    const b = bus();
    expect(b.wants('service.log')).toBe(false);
    const got: BusEvent[] = [];
    const off = b.subscribe(['service.log'], (_l, e) => got.push(e));
    expect(b.wants('service.log')).toBe(true);
    b.publish('service.log', { service: 's', version: 1, instance: 0, stream: 'stdout', line: 'a', log_seq: 1 });
    off();
    expect(b.wants('service.log')).toBe(false);
    b.publish('service.log', { service: 's', version: 1, instance: 0, stream: 'stdout', line: 'b', log_seq: 2 });
    expect(got.map((e) => e.line)).toEqual(['a']);
  });

  it('throttles download.progress per job: the first at once, then the latest once a second, and the last before the job\'s next state', () => {
    vi.useFakeTimers();
    const b = bus();
    const got: BusEvent[] = [];
    b.subscribe(['download.progress', 'download.state'], (_l, e) => got.push(e));
    for (let bytes = 1; bytes <= 50; bytes++) b.publish('download.progress', { id: 1, bytes, total: 100, rate: 10 });
    b.publish('download.progress', { id: 2, bytes: 7, total: null, rate: 1 });
    expect(got.map((e) => [e.id, e.bytes])).toEqual([
      [1, 1],
      [2, 7],
    ]);
    vi.advanceTimersByTime(1000);
    expect(got.map((e) => [e.id, e.bytes])).toEqual([
      [1, 1],
      [2, 7],
      [1, 50],
    ]);
    b.publish('download.progress', { id: 1, bytes: 99, total: 100, rate: 10 });
    b.publish('download.state', { id: 1, state: 'verifying', previous: 'active', url: 'http://x/', dest: '/d', error: null });
    expect(got.slice(3).map((e) => [e.topic, e.id, e.bytes])).toEqual([
      ['download.progress', 1, 99],
      ['download.state', 1, undefined],
    ]);
    vi.advanceTimersByTime(5000);
    expect(got).toHaveLength(5);
  });

  it('resolves topic families and refuses an unknown topic naming it', () => {
    expect([...resolveTopics(['deploy'])]).toEqual(['deploy.phase']);
    expect([...resolveTopics(['proxy.*'])]).toEqual(['proxy.switch', 'proxy.health']);
    expect(resolveTopics([]).size).toBeGreaterThan(10);
    expect(() => resolveTopics(['deploy.phases'])).toThrow(/unknown event topic "deploy.phases" \(did you mean deploy.phase\? topics: download.state,/);
    expect(() => resolveTopics(['frobnicate'])).toThrow(/unknown event topic "frobnicate" \(topics: /);
  });
});

describe('a slow subscriber', () => {
  class Out implements EventOutput {
    writableLength = 0;
    writable = true;
    lines: string[] = [];
    write(line: string): boolean {
      this.lines.push(line);
      this.writableLength += line.length;
      return true;
    }
  }

  it('gets no events while its socket holds more than the limit, then a lost notification with the count, then events again', () => {
    const stats = new StatsRegistry();
    const b = new EventBus({ stats: stats.scope('events') });
    buses.push(b);
    const out = new Out();
    const sub = new SocketSubscriber(b, out, 1000);
    sub.subscribe(resolveTopics(['service']));
    for (let i = 0; i < 100; i++) b.publish('service.exit', { ...exit, restarts: i });
    // Written until over 1000 bytes, the rest dropped and counted.
    const written = out.lines.length;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(10);
    expect(sub.dropped).toBe(100 - written);
    expect(stats.snapshot()).toMatchObject({ events: { dropped: 100 - written, subscribers: 1 } });
    // The client reads everything: the socket drains.
    out.writableLength = 0;
    sub.drained();
    const lost = JSON.parse(out.lines.at(-1)!);
    expect(lost).toMatchObject({ jsonrpc: '2.0', method: 'lost', params: { dropped: 100 - written, last_seq: 100 } });
    b.publish('service.exit', { ...exit, restarts: 500 });
    expect(JSON.parse(out.lines.at(-1)!).params).toMatchObject({ topic: 'service.exit', restarts: 500, seq: 101 });
    sub.unsubscribe();
    expect(b.wants('service.exit')).toBe(false);
    stats.close();
  });
});
