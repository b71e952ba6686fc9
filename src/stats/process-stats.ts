import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { StatsRegistry } from './registry.js';

/** The agent process's own gauges: memory and event-loop lag. Returns a stop function. */
export function registerProcessStats(stats: StatsRegistry): () => void {
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const s = stats.scope('process');
  s.gauge('rss_bytes', 'resident set size', () => process.memoryUsage.rss());
  s.gauge('heap_used_bytes', 'V8 heap in use', () => process.memoryUsage().heapUsed);
  s.gauge('event_loop_lag_ms', 'mean event-loop delay since the last reset', () => (Number.isNaN(lag.mean) ? 0 : Math.round(lag.mean / 1e4) / 100));
  s.gauge('event_loop_lag_max_ms', 'longest event-loop delay seen', () => Math.round(lag.max / 1e4) / 100);
  s.gauge('uptime_s', 'seconds since the process started', () => Math.floor(process.uptime()));
  return () => lag.disable();
}
