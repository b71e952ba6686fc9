import type { ChalkInstance } from 'chalk';
import type { ControlClient } from '../control/client.js';
import { formatBytes, formatDuration, formatRate } from '../ui/format.js';
import { stateColour } from '../ui/colour.js';
import type { JobView } from './job.js';

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

/** The one line printed when a job ends. */
export function finalLine(j: JobView): string {
  if (j.state === 'done') {
    const secs = j.finished_at ? (Date.parse(j.finished_at) - Date.parse(j.created_at)) / 1000 : null;
    return `job ${j.id} done: ${formatBytes(j.bytes)}${secs !== null ? ` in ${formatDuration(secs)}` : ''} → ${j.dest}`;
  }
  if (j.state === 'failed') return `job ${j.id} failed: ${j.error ?? 'unknown error'}`;
  return `job ${j.id} ${j.state}`;
}

export interface WatchOutput {
  isTTY: boolean;
  write(s: string): void;
}

/**
 * Polls the jobs until every one has ended (done, failed, cancelled) and
 * returns their last views. Paused jobs are watched on (Ctrl-C leaves).
 */
export async function watchJobs(client: ControlClient, ids: readonly number[], out: WatchOutput, c: ChalkInstance, intervalMs = 250): Promise<JobView[]> {
  let drawn = 0;
  const announced = new Set<number>();
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => client.call('download.info', { id })));
    if (out.isTTY) {
      const lines = jobs.map((j) => progressLine(j, c));
      out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
      drawn = lines.length;
    }
    for (const j of jobs) {
      if (ENDED.has(j.state) && !announced.has(j.id)) {
        announced.add(j.id);
        if (!out.isTTY) out.write(`${finalLine(j)}\n`);
      }
    }
    if (jobs.every((j) => ENDED.has(j.state))) {
      if (out.isTTY) for (const j of jobs) if (j.state === 'failed') out.write(`${finalLine(j)}\n`);
      return jobs;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A job id argument: a positive integer, else `usage` (exit 2). */
export function parseJobId(raw: string, usage: (message: string) => never): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) usage(`job id must be a positive integer (got "${raw}")`);
  return Number(raw);
}
