import { z } from 'zod';
import { ProxyctlError } from '../errors.js';
import { defineCommand, type MethodMap } from '../control/registry.js';
import type { JobView } from './job.js';
import type { DownloadManager } from './manager.js';

/** The `download.*` control commands (talk `download …`). */

// Talk gives the id as a word: digits become the number JSON-RPC sends.
const id = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number({ invalid_type_error: 'must be a positive integer' }).int('must be a positive integer').positive('must be a positive integer'),
);
const target = z
  .object({ id: id.optional(), all: z.boolean().optional() })
  .strict()
  .refine((p) => (p.id !== undefined) !== (p.all === true), { message: 'give a job id or all (not both)' });

const addParams = z
  .object({
    url: z.string({ required_error: 'a URL is required' }).min(1, 'a URL is required'),
    dest: z.string().min(1, 'dest must not be empty').optional(),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'sha256 must be 64 hex digits').optional(),
    index: z.number({ invalid_type_error: 'index must be a non-negative integer' }).int('index must be a non-negative integer').min(0, 'index must be a non-negative integer').optional(),
    max_rate: z.number({ invalid_type_error: 'max_rate must be a non-negative integer (bytes/s)' }).int().min(0, 'max_rate must be a non-negative integer (bytes/s)').optional(),
    force: z.boolean().optional(),
  })
  .strict();

const ADD_KEYS: Record<string, 'dest' | 'sha256' | 'index' | 'max_rate' | 'force'> = { dest: 'dest', sha256: 'sha256', index: 'index', rate: 'max_rate', max_rate: 'max_rate', force: 'force' };

/** `URL [dest=PATH] [sha256=HEX] [index=N] [rate=BPS] [force=1]` → params. */
function addFromTalk(args: readonly string[]): z.input<typeof addParams> {
  const [url, ...opts] = args;
  if (!url) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'download add: a URL is required');
  const params: Record<string, unknown> = { url };
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = ADD_KEYS[eq > 0 ? opt.slice(0, eq) : opt];
    if (eq <= 0 || !key) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `download add: unknown option "${opt}" (dest=PATH sha256=HEX index=N rate=BPS force=1)`);
    const value = opt.slice(eq + 1);
    if (key === 'index' || key === 'max_rate') params[key] = /^-?\d+$/.test(value) ? Number(value) : value;
    else if (key === 'force') params[key] = value === '1' || value === 'true' || value === 'yes';
    else params[key] = value;
  }
  return params as z.input<typeof addParams>;
}

function targetFromTalk(args: readonly string[], what: string): z.input<typeof target> {
  if (args.length !== 1) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `download ${what}: give one job id${what === 'pause' || what === 'resume' ? ' or all' : ''}`);
  if (args[0] === 'all') return { all: true };
  return { id: args[0] };
}

function jobLine(j: JobView): string {
  const pct = j.total ? `${((100 * j.bytes) / j.total).toFixed(1)}%` : '-';
  return `${j.id} ${j.index ?? '-'} ${j.state} ${pct} ${j.bytes}/${j.total ?? '?'} ${j.speed_bps}B/s ${j.proxy ?? 'DIRECT'} ${j.url}${j.error ? ` error: ${j.error}` : ''}`;
}

export function downloadCommands(manager: DownloadManager) {
  const none = z.object({}).strict();
  return [
    defineCommand({
      method: 'download.add',
      talk: 'download add',
      usage: 'URL [dest=PATH] [sha256=HEX] [index=N] [rate=BPS] [force=1]',
      summary: 'queue a download; replies with the job id',
      params: addParams,
      fromTalk: addFromTalk,
      handler: (p): { id: number; existing: boolean } => manager.add(p),
      renderText: (r) => String(r.id),
    }),
    defineCommand({
      method: 'download.list',
      talk: 'download list',
      summary: 'every download job: id index state % bytes/total speed proxy url',
      params: none,
      handler: (): JobView[] => manager.list(),
      renderText: (jobs) => (jobs.length === 0 ? '(no jobs)' : jobs.map(jobLine).join('\n')),
    }),
    defineCommand({
      method: 'download.info',
      talk: 'download info',
      usage: 'ID',
      summary: 'one job in full',
      params: z.object({ id }).strict(),
      positional: ['id'],
      handler: (p): JobView => manager.info(p.id),
    }),
    defineCommand({
      method: 'download.pause',
      talk: 'download pause',
      usage: 'ID|all',
      summary: 'pause a job (or all queued and active jobs) within a second; parts are kept',
      params: target,
      fromTalk: (args) => targetFromTalk(args, 'pause'),
      handler: (p): { jobs: number[] } => ({ jobs: manager.pause(p.all ? 'all' : p.id!) }),
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'download.resume',
      talk: 'download resume',
      usage: 'ID|all',
      summary: 'queue a paused job (or all) again; it continues with a Range request',
      params: target,
      fromTalk: (args) => targetFromTalk(args, 'resume'),
      handler: (p): { jobs: number[] } => ({ jobs: manager.resume(p.all ? 'all' : p.id!) }),
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'download.cancel',
      talk: 'download cancel',
      usage: 'ID',
      summary: 'cancel a job and delete its partial data',
      params: z.object({ id }).strict(),
      positional: ['id'],
      handler: (p): null => {
        manager.cancel(p.id);
        return null;
      },
    }),
    defineCommand({
      method: 'download.retry',
      talk: 'download retry',
      usage: 'ID',
      summary: 'put a failed job back in the queue',
      params: z.object({ id }).strict(),
      positional: ['id'],
      handler: (p): null => {
        manager.retry(p.id);
        return null;
      },
    }),
  ] as const;
}

export type DownloadMethods = MethodMap<ReturnType<typeof downloadCommands>>;
