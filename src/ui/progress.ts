import type { ChalkInstance } from 'chalk';
import type { ControlClient } from '../control/client.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { stateColour } from './colour.js';
import type { JobView } from '../download/job.js';

/**
 * Progress bars for `download add --wait` and `download watch`, drawn by the
 * CLI from polls of `download.info` over one connection. On a TTY the bars
 * are redrawn in place; otherwise one final line per job is printed when it
 * ends. CLI-side code: imports agent modules as types only.
 */

const ENDED = new Set(['done', 'failed', 'cancelled']);

export function percent(j: Pick<JobView, 'bytes' | 'total' | 'state'>): number | null {
  if (j.state === 'done') return 100;
  return j.total ? Math.min(100, (100 * j.bytes) / j.total) : null;
}

/** `#3 [=========>          ]  45.2%  90.4 MiB/200.0 MiB  48.1 MiB/s  ETA 2s  active` */
export function progressLine(j: JobView, c: ChalkInstance, barWidth = 24): string {
  const pct = percent(j);
  const filled = pct === null ? 0 : Math.round((barWidth * pct) / 100);
  const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === barWidth ? '=' : '>') : ''}${' '.repeat(barWidth - filled)}]`;
  const size = `${formatBytes(j.bytes)}/${j.total === null ? '?' : formatBytes(j.total)}`;
  const speed = j.state === 'active' ? formatRate(j.speed_bps) : '-';
  const eta = j.state === 'active' ? `ETA ${formatDuration(j.eta_s)}` : '';
  return `#${j.id} ${c.cyan(bar)} ${(pct === null ? '-' : `${pct.toFixed(1)}%`).padStart(6)}  ${size.padEnd(22)} ${speed.padStart(12)}  ${eta.padEnd(10)} ${stateColour(c, j.state)}`.trimEnd();
}

/** The one line printed when a job ends (or stops: paused). */
export function finalLine(j: JobView): string {
  if (j.state === 'done') {
    const secs = j.finished_at ? (Date.parse(j.finished_at) - Date.parse(j.created_at)) / 1000 : null;
    return `job ${j.id} done: ${formatBytes(j.bytes)}${secs !== null ? ` in ${formatDuration(secs)}` : ''} → ${j.dest}`;
  }
  if (j.state === 'failed') return `job ${j.id} failed: ${j.error ?? 'unknown error'}`;
  if (j.state === 'paused') {
    const pct = percent(j);
    return `job ${j.id} paused at ${formatBytes(j.bytes)}${pct === null ? '' : ` (${pct.toFixed(1)}%)`}; continue it with: proxyctl download resume ${j.id}`;
  }
  return `job ${j.id} ${j.state}`;
}

/** Progress as one plain line (logs, pipes): `job 3 active 45.2% 90.4 MiB/200.0 MiB 48.1 MiB/s ETA 2s`. */
export function plainLine(j: JobView): string {
  const pct = percent(j);
  const size = `${formatBytes(j.bytes)}/${j.total === null ? '?' : formatBytes(j.total)}`;
  const speed = j.state === 'active' ? ` ${formatRate(j.speed_bps)} ETA ${formatDuration(j.eta_s)}` : '';
  return `job ${j.id} ${j.state} ${pct === null ? '-' : `${pct.toFixed(1)}%`} ${size}${speed}`;
}

export interface WatchOutput {
  isTTY: boolean;
  write(s: string): void;
}

export interface WatchOptions {
  intervalMs?: number;
  /** Without a TTY, a progress line per job this often (0 = only state changes). */
  lineEveryMs?: number;
}

/**
 * Polls the jobs until none is running or waiting any more: each has ended
 * (done, failed, cancelled) or is paused (it would wait for a resume: the
 * watch says so and ends). Returns their last views. On a TTY the bars are
 * redrawn in place; otherwise a line is printed when a job starts waiting,
 * at every `lineEveryMs`, and when it ends.
 */
export async function watchJobs(client: ControlClient, ids: readonly number[], out: WatchOutput, c: ChalkInstance, opts: WatchOptions = {}): Promise<JobView[]> {
  const intervalMs = opts.intervalMs ?? 100;
  const lineEveryMs = opts.lineEveryMs ?? 10_000;
  let drawn = 0;
  let lastLines = Date.now();
  const said = new Map<number, string>();
  const say = (j: JobView, what: string, line: string): void => {
    if (said.get(j.id) === what) return;
    said.set(j.id, what);
    out.write(`${line}\n`);
  };
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => client.call('download.info', { id })));
    if (out.isTTY) {
      const lines = jobs.map((j) => progressLine(j, c));
      out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
      drawn = lines.length;
    } else {
      const periodic = lineEveryMs > 0 && Date.now() - lastLines >= lineEveryMs;
      if (periodic) lastLines = Date.now();
      for (const j of jobs) {
        if (j.state === 'queued') say(j, 'queued', `job ${j.id} queued: waiting for a free slot (downloads.max_active)`);
        else if (j.state === 'active' && periodic) out.write(`${plainLine(j)}\n`);
      }
    }
    const stopped = (j: JobView): boolean => ENDED.has(j.state) || j.state === 'paused';
    for (const j of jobs) if (stopped(j) && !out.isTTY) say(j, j.state, finalLine(j));
    if (jobs.every(stopped)) {
      if (out.isTTY) for (const j of jobs) if (j.state === 'failed' || j.state === 'paused') out.write(`${finalLine(j)}\n`);
      return jobs;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
