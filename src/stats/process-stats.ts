import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { StatsRegistry } from './registry.js';

const RESOLUTION_MS = 20;
const WINDOW_MS = 10_000;

/** The agent process's own gauges: memory and event-loop lag. Returns a stop function. */
export function registerProcessStats(stats: StatsRegistry): () => void {
  // The histogram records the time between its sampling timer's runs, so the
  // lag is what exceeds the resolution. Reset every window: recent lag, not lifetime.
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  let lagMs = 0;
  let maxMs = 0;
  const roll = setInterval(() => {
    lagMs = Number.isNaN(h.mean) ? 0 : Math.max(0, h.mean / 1e6 - RESOLUTION_MS);
    maxMs = Math.max(0, h.max / 1e6 - RESOLUTION_MS);
    h.reset();
  }, WINDOW_MS);
  roll.unref();
  const ms = (v: number) => Math.round(v * 100) / 100;
  const s = stats.scope('process');
  s.gauge('rss_bytes', 'resident set size', () => process.memoryUsage.rss());
  s.gauge('heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);
  s.gauge('event_loop_lag_ms', 'mean event-loop delay over the last 10 s window', () => ms(lagMs));
  s.gauge('event_loop_lag_max_ms', 'longest event-loop delay in the last 10 s window', () => ms(maxMs));
  s.gauge('uptime_s', 'seconds since the process started', () => Math.floor(process.uptime()));
  return () => {
    clearInterval(roll);
    h.disable();
  };
}
