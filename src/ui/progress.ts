import type { ChalkInstance } from 'chalk';
import { AgentError, type ControlClient, type Notification } from '../control/client.js';
import type { EventPayloads } from '../control/events.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { stateColour } from './colour.js';
import { changed } from './outcome.js';
import type { JobView } from '../download/job.js';

/**
 * Progress bars for `download add --wait` and `download watch`, drawn by the
 * CLI over one connection from the agent's download.state and
 * download.progress events (or, from an agent without events, polls of
 * `download.info`). On a TTY the bars
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

/**
 * The one line that says how a job ended (or stopped: paused), `download 3: done, …`.
 * The watch prints it for every outcome but `failed`: that one is the command's error.
 */
export function finalLine(j: JobView): string {
  const subject = `download ${j.id}`;
  if (j.state === 'done') {
    const secs = j.finished_at ? (Date.parse(j.finished_at) - Date.parse(j.started_at ?? j.created_at)) / 1000 : null;
    return changed(subject, `done, ${formatBytes(j.bytes)}${secs !== null ? ` in ${formatDuration(secs)}` : ''} → ${j.dest}`);
  }
  if (j.state === 'failed') return changed(subject, `failed: ${j.error ?? 'unknown error'}`);
  if (j.state === 'paused') {
    const pct = percent(j);
    return changed(subject, `paused at ${formatBytes(j.bytes)}${pct === null ? '' : ` (${pct.toFixed(1)}%)`}; continue it with: proxyctl download resume ${j.id}`);
  }
  return changed(subject, j.state);
}

/** Progress as one plain line (logs, pipes): `download 3: active 45.2% 90.4 MiB/200.0 MiB 48.1 MiB/s ETA 2s`. */
export function plainLine(j: JobView): string {
  const pct = percent(j);
  const size = `${formatBytes(j.bytes)}/${j.total === null ? '?' : formatBytes(j.total)}`;
  const speed = j.state === 'active' ? ` ${formatRate(j.speed_bps)} ETA ${formatDuration(j.eta_s)}` : '';
  return changed(`download ${j.id}`, `${j.state} ${pct === null ? '-' : `${pct.toFixed(1)}%`} ${size}${speed}`);
}

export interface WatchOutput {
  isTTY: boolean;
  write(s: string): void;
}

export interface WatchOptions {
  /** Between polls of an agent without events. */
  intervalMs?: number;
  /** Without a TTY, a progress line per job this often (0 = only state changes). */
  lineEveryMs?: number;
}

const stopped = (j: JobView): boolean => ENDED.has(j.state) || j.state === 'paused';

/**
 * Draws what the watch knows: on a TTY the bars redrawn in place; otherwise a
 * line when a job starts waiting, at every `lineEveryMs`, and when it ends.
 */
class Drawing {
  readonly #out: WatchOutput;
  readonly #c: ChalkInstance;
  readonly #lineEveryMs: number;
  #drawn = 0;
  #lastLines = Date.now();
  readonly #said = new Map<number, string>();

  constructor(out: WatchOutput, c: ChalkInstance, lineEveryMs: number) {
    this.#out = out;
    this.#c = c;
    this.#lineEveryMs = lineEveryMs;
  }

  /** Ms until the next periodic line is due (null: none is). */
  get nextLineMs(): number | null {
    if (this.#out.isTTY || this.#lineEveryMs <= 0) return null;
    return Math.max(0, this.#lastLines + this.#lineEveryMs - Date.now());
  }

  draw(jobs: readonly JobView[]): void {
    const out = this.#out;
    if (out.isTTY) {
      const lines = jobs.map((j) => progressLine(j, this.#c));
      out.write(`${this.#drawn > 0 ? `\x1b[${this.#drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
      this.#drawn = lines.length;
    } else {
      const periodic = this.nextLineMs === 0;
      if (periodic) this.#lastLines = Date.now();
      for (const j of jobs) {
        if (j.state === 'queued') this.#say(j, 'queued', changed(`download ${j.id}`, 'queued, waiting for a free slot (downloads.max_active)'));
        else if (j.state === 'active' && periodic) out.write(`${plainLine(j)}\n`);
      }
      for (const j of jobs) if (stopped(j) && j.state !== 'failed') this.#say(j, j.state, finalLine(j));
    }
  }

  /** Every job stopped: on a TTY, the line the bars cannot say (how to resume). */
  end(jobs: readonly JobView[]): void {
    if (this.#out.isTTY) for (const j of jobs) if (j.state === 'paused') this.#out.write(`${finalLine(j)}\n`);
  }

  #say(j: JobView, what: string, line: string): void {
    if (this.#said.get(j.id) === what) return;
    this.#said.set(j.id, what);
    this.#out.write(`${line}\n`);
  }
}

type JobEvent = (EventPayloads['download.state'] & { topic: 'download.state' }) | (EventPayloads['download.progress'] & { topic: 'download.progress' });

/**
 * Follows the jobs until none is running or waiting any more: each has ended
 * (done, failed, cancelled) or is paused (it would wait for a resume: the
 * watch says so and ends). Returns their last views. Subscribes to the
 * jobs' events first, then reads each job once: a state event reads that job
 * again, a progress event updates its bytes and speed. An agent without
 * events is polled every `intervalMs`.
 */
export async function watchJobs(client: ControlClient, ids: readonly number[], out: WatchOutput, c: ChalkInstance, opts: WatchOptions = {}): Promise<JobView[]> {
  const drawing = new Drawing(out, c, opts.lineEveryMs ?? 10_000);
  const mine = new Set(ids);
  const queue: JobEvent[] = [];
  let lost = false;
  let gone: Error | null = null;
  let wake: (() => void) | null = null;
  const off = client.onNotification((n: Notification) => {
    if (n.method === 'lost') lost = true;
    else if (n.method === 'event' && (n.params.topic === 'download.state' || n.params.topic === 'download.progress') && mine.has(n.params.id as number)) queue.push(n.params as unknown as JobEvent);
    else return;
    wake?.();
  });
  void client.closed.then((err) => {
    gone = err;
    wake?.();
  });
  try {
    try {
      await client.call('events.subscribe', { topics: ['download.state', 'download.progress'] });
    } catch (err) {
      if (!(err instanceof AgentError) || err.code !== 'PXC_ERR_UNKNOWN_COMMAND') throw err;
      return await poll(client, ids, drawing, opts.intervalMs ?? 100);
    }
    const read = (id: number) => client.call('download.info', { id }) as Promise<JobView>;
    const views = await Promise.all(ids.map(read));
    for (;;) {
      drawing.draw(views);
      if (views.every(stopped)) {
        drawing.end(views);
        return views;
      }
      if (queue.length === 0 && !lost && !gone) await nextWake(drawing.nextLineMs, (w) => (wake = w)).finally(() => (wake = null));
      if (gone) throw gone;
      const again = new Set<number>();
      if (lost) {
        lost = false;
        for (const id of ids) again.add(id);
      }
      for (const e of queue.splice(0)) {
        if (e.topic === 'download.state') again.add(e.id);
        else if (!again.has(e.id)) progressed(views[ids.indexOf(e.id)]!, e);
      }
      for (const id of again) views[ids.indexOf(id)] = await read(id);
    }
  } finally {
    off();
  }
}

/** Resolves on the next event or the connection's end (both call the wake given to `setWake`), or after `ms` (null: never). */
function nextWake(ms: number | null, setWake: (w: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = ms === null ? undefined : setTimeout(resolve, ms);
    setWake(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A progress event laid over the job's view (speed, ETA as the agent computes them). */
function progressed(j: JobView, e: EventPayloads['download.progress']): void {
  if (j.state !== 'active') return;
  j.bytes = e.bytes;
  j.total = e.total;
  j.speed_bps = e.rate;
  j.eta_s = e.total !== null && e.rate > 0 ? Math.max(0, Math.round((e.total - e.bytes) / e.rate)) : null;
}

async function poll(client: ControlClient, ids: readonly number[], drawing: Drawing, intervalMs: number): Promise<JobView[]> {
  for (;;) {
    const jobs = (await Promise.all(ids.map((id) => client.call('download.info', { id })))) as JobView[];
    drawing.draw(jobs);
    if (jobs.every(stopped)) {
      drawing.end(jobs);
      return jobs;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
