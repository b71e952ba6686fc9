import { describe, expect, it } from 'vitest';
import { describeEvent } from '../../../src/ui/render/events.js';

const at = { time: '2026-01-02T03:04:05.678Z', seq: 1 };

describe('event lines (proxyctl events)', () => {
  it('say download progress in the units of download list, and a state change with its error', () => {
    expect(describeEvent({ topic: 'download.progress', ...at, id: 3, bytes: 1024 * 1024, total: 3 * 1024 * 1024, rate: 512 * 1024 })).toBe('03:04:05.678 download.progress download 3: 1.00 MiB of 3.00 MiB, 512.0 KiB/s');
    expect(describeEvent({ topic: 'download.state', ...at, id: 3, previous: 'active', state: 'failed', error: 'HTTP 404 from o', url: 'http://o/f', dest: '/d/f' })).toBe('03:04:05.678 download.state download 3: active -> failed: HTTP 404 from o (http://o/f)');
  });

  it('say which target of which app went down, and why', () => {
    expect(describeEvent({ topic: 'target.health', ...at, app: 'web', target: '127.0.0.1:81', health: 'down', error: 'connect: ECONNREFUSED' })).toBe('03:04:05.678 target.health app web: target 127.0.0.1:81 down (connect: ECONNREFUSED)');
  });
});
