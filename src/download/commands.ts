import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseBytes } from '../config/units.js';
import { ProxyctlError } from '../errors.js';
import { defineCommand } from '../control/registry.js';
import type { JobView } from './job.js';
import type { AddRequest, DownloadManager } from './queue.js';
import { parseHeader } from './request-headers.js';

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

const MAX_SOURCES = 16;
const url = z.string({ invalid_type_error: 'a URL must be a string' }).min(1, 'a URL must not be empty');

/** Bytes/s as a number or `1M`, `500K`. */
const rate = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === 'number' ? (Number.isSafeInteger(v) && v >= 0 ? v : null) : parseBytes(v);
  if (n === null) {
    ctx.addIssue({ code: 'custom', message: `max_rate: "${v}" is not a rate (bytes/s, or a number with K, M or G: 1M, 500K)` });
    return z.NEVER;
  }
  return n;
});

const header = z.string().transform((raw, ctx) => {
  const h = parseHeader(raw);
  if (typeof h === 'string') {
    ctx.addIssue({ code: 'custom', message: h });
    return z.NEVER;
  }
  return h;
});

const caFile = z.string().transform((path, ctx) => {
  const problem = checkCaFile(path);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return path;
});

const jobParams = z
  .object({
    url: url.optional(),
    urls: z.array(url).min(1, 'urls: give at least one URL').max(MAX_SOURCES, `urls: at most ${MAX_SOURCES} mirrors`).optional(),
    dest: z.string().min(1, 'dest must not be empty').optional(),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'sha256 must be 64 hex digits').optional(),
    index: z.number({ invalid_type_error: 'index must be a non-negative integer' }).int('index must be a non-negative integer').min(0, 'index must be a non-negative integer').optional(),
    max_rate: rate.optional(),
    connections: z.number({ invalid_type_error: 'connections must be an integer from 1 to 16' }).int('connections must be an integer from 1 to 16').min(1, 'connections must be an integer from 1 to 16').max(16, 'connections must be an integer from 1 to 16').optional(),
    headers: z.array(header).optional(),
    ca_file: caFile.optional(),
    force: z.boolean().optional(),
  })
  .strict()
  .refine((p) => (p.url !== undefined) !== (p.urls !== undefined), { message: 'give url (one) or urls (mirrors of one file), not both' });

/** One job, or `jobs` (an input file's): all are queued, or none. */
const addParams = z.union([jobParams, z.object({ jobs: z.array(jobParams).min(1, 'jobs: give at least one job').max(10_000) }).strict()]);

type JobParams = z.output<typeof jobParams>;

const toRequest = (p: JobParams): AddRequest => ({
  urls: p.urls ?? [p.url!],
  dest: p.dest,
  sha256: p.sha256,
  index: p.index,
  max_rate: p.max_rate,
  connections: p.connections,
  headers: p.headers,
  ca_file: p.ca_file,
  force: p.force,
});

/** A PEM file of CAs: absolute, readable, with a certificate in it; else why not. */
function checkCaFile(path: string): string | null {
  if (!isAbsolute(path)) return `ca_file: "${path}" must be an absolute path`;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    return `ca_file ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  return /-----BEGIN CERTIFICATE-----/.test(pem) ? null : `ca_file ${path}: no PEM certificate in it`;
}

const ADD_KEYS: Record<string, 'dest' | 'sha256' | 'index' | 'max_rate' | 'force' | 'connections' | 'headers' | 'ca_file'> = {
  dest: 'dest',
  sha256: 'sha256',
  index: 'index',
  rate: 'max_rate',
  max_rate: 'max_rate',
  force: 'force',
  connections: 'connections',
  header: 'headers',
  ca_file: 'ca_file',
};
const ADD_USAGE = 'URL [URL…] [dest=PATH] [sha256=HEX] [index=N] [rate=1M] [connections=N] [header="Name: value"]… [ca_file=PATH] [force=1]';

/** Words of a talk line, with "…" or '…' quoting (a header value has spaces). */
export function talkWords(rest: string): string[] {
  const words: string[] = [];
  const re = /(?:[^\s"']+|"[^"]*"|'[^']*')+/g;
  for (const m of rest.matchAll(re)) words.push(m[0].replace(/"([^"]*)"|'([^']*)'/g, (_, a: string | undefined, b: string | undefined) => a ?? b ?? ''));
  return words;
}

/** `URL [URL…] [key=value]…` → params. */
function addFromTalk(_args: readonly string[], rest: string): z.input<typeof jobParams> {
  const urls: string[] = [];
  const params: Record<string, unknown> = {};
  for (const word of talkWords(rest)) {
    const eq = word.indexOf('=');
    const key = eq > 0 ? ADD_KEYS[word.slice(0, eq)] : undefined;
    if (!key) {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(word)) {
        urls.push(word);
        continue;
      }
      throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `download add: unknown option "${word}" (${ADD_USAGE})`);
    }
    const value = word.slice(eq + 1);
    if (key === 'index' || key === 'connections') params[key] = /^-?\d+$/.test(value) ? Number(value) : value;
    else if (key === 'max_rate') params[key] = /^\d+$/.test(value) ? Number(value) : value;
    else if (key === 'force') params[key] = value === '1' || value === 'true' || value === 'yes';
    else if (key === 'headers') params.headers = [...((params.headers as string[] | undefined) ?? []), value];
    else params[key] = value;
  }
  if (urls.length === 0) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `download add: a URL is required (${ADD_USAGE})`);
  return { ...(urls.length === 1 ? { url: urls[0] } : { urls }), ...params } as z.input<typeof jobParams>;
}

function targetFromTalk(args: readonly string[], what: string): z.input<typeof target> {
  if (args.length !== 1) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `download ${what}: give one job id${what === 'pause' || what === 'resume' ? ' or all' : ''}`);
  if (args[0] === 'all') return { all: true };
  return { id: args[0] };
}

function jobLine(j: JobView): string {
  const pct = j.total ? `${((100 * j.bytes) / j.total).toFixed(1)}%` : '-';
  return `${j.id} ${j.index ?? '-'} ${j.state} ${pct} ${j.bytes}/${j.total ?? '?'} ${j.speed_bps}B/s ${j.proxy ?? '-'} ${j.url}${j.error ? ` error: ${j.error}` : ''}`;
}

const purgeParams = z
  .object({ ids: z.array(id).min(1, 'ids: give at least one job id').optional(), finished: z.boolean().optional() })
  .strict()
  .refine((p) => (p.ids !== undefined) !== (p.finished === true), { message: 'give job ids or finished (not both)' });

export interface AddResult {
  /** The (first) job's id. */
  id: number;
  /** It was already queued under this index with this URL. */
  existing: boolean;
  /** Every job of the request, in order. */
  jobs: Array<{ id: number; existing: boolean }>;
}

/** `manager`: the queue, once the subsystem has started (the commands are registered before). */
export function downloadCommands(manager: () => DownloadManager) {
  const none = z.object({}).strict();
  return [
    defineCommand({
      method: 'download.add',
      talk: 'download add',
      usage: ADD_USAGE,
      summary: 'queue a download (several URLs are mirrors of one file); replies with the job id',
      params: addParams,
      fromTalk: addFromTalk,
      handler: (p): AddResult => {
        const jobs = manager().add('jobs' in p ? p.jobs.map(toRequest) : [toRequest(p)]);
        return { id: jobs[0]!.id, existing: jobs[0]!.existing, jobs };
      },
      renderText: (r) => r.jobs.map((j) => j.id).join('\n'),
    }),
    defineCommand({
      method: 'download.list',
      talk: 'download list',
      summary: 'every download job: id index state % bytes/total speed proxy url',
      params: none,
      handler: (): JobView[] => manager().list(),
      renderText: (jobs) => (jobs.length === 0 ? 'no download jobs' : jobs.map(jobLine).join('\n')),
    }),
    defineCommand({
      method: 'download.info',
      talk: 'download info',
      usage: 'ID',
      summary: 'one job in full, with the bytes and errors of each of its sources',
      params: z.object({ id }).strict(),
      positional: ['id'],
      handler: (p): JobView => manager().info(p.id),
    }),
    defineCommand({
      method: 'download.pause',
      talk: 'download pause',
      usage: 'ID|all',
      summary: 'pause a job (or all queued and active jobs) within a second; parts are kept',
      params: target,
      fromTalk: (args) => targetFromTalk(args, 'pause'),
      handler: (p): { jobs: number[] } => ({ jobs: manager().pause(p.all ? 'all' : p.id!) }),
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'download.resume',
      talk: 'download resume',
      usage: 'ID|all',
      summary: 'queue a paused job (or all) again; it continues with Range requests',
      params: target,
      fromTalk: (args) => targetFromTalk(args, 'resume'),
      handler: (p): { jobs: number[] } => ({ jobs: manager().resume(p.all ? 'all' : p.id!) }),
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'download.cancel',
      talk: 'download cancel',
      usage: 'ID',
      summary: 'cancel a job and delete its partial data; replies with the job (JSON-RPC)',
      params: z.object({ id }).strict(),
      positional: ['id'],
      handler: (p): JobView => {
        manager().cancel(p.id);
        return manager().info(p.id);
      },
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'download.retry',
      talk: 'download retry',
      usage: 'ID',
      summary: 'put a failed job back in the queue (its mirrors all usable again); replies with the job (JSON-RPC)',
      params: z.object({ id }).strict(),
      positional: ['id'],
      handler: (p): JobView => {
        manager().retry(p.id);
        return manager().info(p.id);
      },
      renderText: () => 'OK',
    }),
    defineCommand({
      method: 'download.purge',
      talk: 'download purge',
      usage: 'ID…|finished',
      summary: 'remove done, failed and cancelled jobs with their parts and partial files; state.db gives the space back',
      params: purgeParams,
      fromTalk: (args) => {
        if (args.length === 1 && args[0] === 'finished') return { finished: true };
        if (args.length === 0) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'download purge: give job ids or finished');
        return { ids: [...args] };
      },
      handler: async (p): Promise<{ jobs: number[] }> => ({ jobs: await manager().purge(p.finished ? 'finished' : p.ids!) }),
      renderText: (r) => (r.jobs.length === 0 ? 'nothing to purge' : `purged: ${r.jobs.join(' ')}`),
    }),
  ] as const;
}
