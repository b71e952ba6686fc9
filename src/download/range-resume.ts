/**
 * The Range rules, as pure functions: what to send for a range of the file,
 * and what a response means for the bytes a job holds.
 *
 *   206 with Content-Range starting where asked (and the same ETag) → write the body there
 *   200 to a request from byte 0 without a range → the body is the file
 *   200 to a ranged request → the server ignored the range, or (If-Range) the file
 *       changed: the body is the whole file from byte 0 (never written at the offset)
 *   416 → the file is shorter than asked: ask its size without a range; equal to the
 *       bytes held → complete, else fail
 */

export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

/** Bytes `[start, end)` of the file; `end` null = to the end. */
export interface ByteRange {
  start: number;
  end: number | null;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export type ResponseDecision =
  /** 206 matching the request: write the body at `start`. `total` from Content-Range. */
  | { kind: 'append'; total: number | null; validators: Validators }
  /** 200 for a request of the whole file: the body is the file. */
  | { kind: 'fresh'; total: number | null; validators: Validators }
  /** 200 to a ranged request: the body is the whole file from 0 (range ignored, or the file changed). */
  | { kind: 'whole-file'; reason: string; changed: boolean; total: number | null; validators: Validators }
  /** A 206 that does not fit (other start, no Content-Range, other ETag): what is held cannot be trusted to match. */
  | { kind: 'mismatch'; reason: string }
  /** 416: the file is shorter than the range's start. */
  | { kind: 'not-satisfiable' }
  /** Any other status: a failure for the router to classify. */
  | { kind: 'status'; status: number };

/** The validator If-Range should carry: a strong ETag, else Last-Modified. */
export function ifRangeValidator(v: Validators): string | null {
  return v.etag && !v.etag.startsWith('W/') ? v.etag : v.lastModified;
}

/** Request headers for `range` of a file the job knows by `v` (no Range for the whole file). */
export function rangeHeaders(range: ByteRange, v: Validators): Record<string, string> {
  if (range.start <= 0 && range.end === null) return {};
  const headers: Record<string, string> = { range: `bytes=${range.start}-${range.end === null ? '' : range.end - 1}` };
  const validator = ifRangeValidator(v);
  if (validator) headers['if-range'] = validator;
  return headers;
}

export function header(headers: Headers, name: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? (v[0] ?? null) : v;
}

/** `bytes 100-199/1000` → {start, end, total}; total null for `*`. */
export function parseContentRange(value: string | null): { start: number; end: number; total: number | null } | null {
  if (!value) return null;
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return null;
  return { start, end, total: m[3] === '*' ? null : Number(m[3]) };
}

export function contentLength(headers: Headers): number | null {
  const v = header(headers, 'content-length');
  return v !== null && /^\d+$/.test(v) ? Number(v) : null;
}

export function validatorsOf(headers: Headers): Validators {
  return { etag: header(headers, 'etag'), lastModified: header(headers, 'last-modified') };
}

export function decideResponse(range: ByteRange, held: Validators, status: number, headers: Headers): ResponseDecision {
  const validators = validatorsOf(headers);
  if (status === 200) {
    const total = contentLength(headers);
    if (range.start === 0 && range.end === null) return { kind: 'fresh', total, validators };
    const changed = held.etag !== null && validators.etag !== null && held.etag !== validators.etag;
    const asked = `bytes=${range.start}-${range.end === null ? '' : range.end - 1}`;
    return { kind: 'whole-file', changed, reason: changed ? `the file changed (ETag ${held.etag} → ${validators.etag})` : `the server ignored "Range: ${asked}"`, total, validators };
  }
  if (status === 206) {
    const cr = parseContentRange(header(headers, 'content-range'));
    if (!cr) return { kind: 'mismatch', reason: 'a 206 response without a valid Content-Range' };
    if (cr.start !== range.start) return { kind: 'mismatch', reason: `asked for bytes from ${range.start}, got Content-Range from ${cr.start}` };
    if (held.etag !== null && validators.etag !== null && validators.etag !== held.etag) return { kind: 'mismatch', reason: `the file changed (ETag ${held.etag} → ${validators.etag})` };
    return { kind: 'append', total: cr.total, validators };
  }
  if (status === 416 && range.start > 0) return { kind: 'not-satisfiable' };
  return { kind: 'status', status };
}

export type SizeVerdict = { kind: 'complete' } | { kind: 'fail'; message: string };

/** After a 416 for bytes from `offset`: the size the server reports without a range decides. */
export function afterRangeNotSatisfiable(offset: number, remoteSize: number | null): SizeVerdict {
  if (remoteSize === null) return { kind: 'fail', message: `the server refused "Range: bytes=${offset}-" (416) and does not tell the file size` };
  if (remoteSize === offset) return { kind: 'complete' };
  if (remoteSize < offset) return { kind: 'fail', message: `partial data larger than remote file (${offset} bytes held, remote file is ${remoteSize} bytes)` };
  return { kind: 'fail', message: `the server refused "Range: bytes=${offset}-" (416) although the file is ${remoteSize} bytes` };
}

/** Before writing: held bytes beyond the announced size can never become the file. */
export function checkOffsetAgainstTotal(offset: number, total: number | null): string | null {
  if (total !== null && offset > total) return `partial data larger than remote file (${offset} bytes held, remote file is ${total} bytes)`;
  return null;
}
