/**
 * The resume rules, as pure functions: what to send for a job holding N bytes,
 * and what a response means for those bytes.
 *
 *   206 with Content-Range starting at N (and the same ETag) → append
 *   200 → the server ignored the range or the file changed: drop the parts,
 *         take this body from byte 0 (never append a 200 body)
 *   416 → ask for the size without a range: equal to N → complete, else fail
 */

export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export type ResponseDecision =
  /** 206 matching the range: append the body at N. `total` from Content-Range. */
  | { kind: 'append'; total: number | null }
  /** 200 for a request from 0: the body is the file. */
  | { kind: 'fresh'; total: number | null; validators: Validators }
  /** The bytes held do not belong to the file served now: drop them and take this 200 body from 0. */
  | { kind: 'restart'; reason: string; total: number | null; validators: Validators }
  /** A 206 that does not fit (other start, other ETag): drop the parts and ask again without a range. */
  | { kind: 'retry-from-zero'; reason: string }
  /** 416: find the remote size with a request without a range, then `afterRangeNotSatisfiable`. */
  | { kind: 'check-size' }
  /** Any other status: the caller classifies it (5xx retry, 4xx fail). */
  | { kind: 'status'; status: number };

/** Request headers for a job holding `offset` bytes. */
export function resumeHeaders(offset: number, v: Validators): Record<string, string> {
  if (offset <= 0) return {};
  const headers: Record<string, string> = { range: `bytes=${offset}-` };
  // A strong ETag is the better validator; Last-Modified is what is left without one.
  const validator = v.etag && !v.etag.startsWith('W/') ? v.etag : v.lastModified;
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

export function decideResponse(offset: number, held: Validators, status: number, headers: Headers): ResponseDecision {
  if (status === 200) {
    const total = contentLength(headers);
    const validators = validatorsOf(headers);
    if (offset === 0) return { kind: 'fresh', total, validators };
    const changed = held.etag !== null && validators.etag !== null && held.etag !== validators.etag;
    return { kind: 'restart', reason: changed ? `the file changed (ETag ${held.etag} → ${validators.etag})` : `the server ignored "Range: bytes=${offset}-"`, total, validators };
  }
  if (status === 206) {
    const range = parseContentRange(header(headers, 'content-range'));
    if (!range) return { kind: 'retry-from-zero', reason: 'a 206 response without a valid Content-Range' };
    if (range.start !== offset) return { kind: 'retry-from-zero', reason: `asked for bytes from ${offset}, got Content-Range from ${range.start}` };
    const etag = header(headers, 'etag');
    if (held.etag !== null && etag !== null && etag !== held.etag) return { kind: 'retry-from-zero', reason: `the file changed (ETag ${held.etag} → ${etag})` };
    return { kind: 'append', total: range.total };
  }
  if (status === 416 && offset > 0) return { kind: 'check-size' };
  return { kind: 'status', status };
}

export type SizeVerdict = { kind: 'complete' } | { kind: 'fail'; message: string };

/** After a 416 for `bytes=N-`: the size the server reports without a range decides. */
export function afterRangeNotSatisfiable(offset: number, remoteSize: number | null): SizeVerdict {
  if (remoteSize === null) return { kind: 'fail', message: `the server refused "Range: bytes=${offset}-" (416) and does not tell the file size` };
  if (remoteSize === offset) return { kind: 'complete' };
  if (remoteSize < offset) return { kind: 'fail', message: `partial data larger than remote file (${offset} bytes held, remote file is ${remoteSize} bytes)` };
  return { kind: 'fail', message: `the server refused "Range: bytes=${offset}-" (416) although the file is ${remoteSize} bytes` };
}

/** Before appending: held bytes beyond the announced size can never become the file. */
export function checkOffsetAgainstTotal(offset: number, total: number | null): string | null {
  if (total !== null && offset > total) return `partial data larger than remote file (${offset} bytes held, remote file is ${total} bytes)`;
  return null;
}
