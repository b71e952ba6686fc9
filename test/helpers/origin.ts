import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A test origin on 127.0.0.1: generated files served with Range, ETag and
 * Last-Modified, plus switches that make it misbehave the ways real servers do
 * (ignore Range, change the file, answer 416, throttle, drop the connection at
 * byte K, answer an error status). It counts the body bytes it served and logs
 * every request's Range / If-Range headers.
 */

export interface OriginFile {
  data: Buffer;
  sha256: string;
  etag: string;
  lastModified: string;
}

export interface OriginRequest {
  method: string;
  path: string;
  range: string | null;
  ifRange: string | null;
  status: number;
  /** Headers the origin saw, e.g. `via` set by a forward proxy. */
  headers: IncomingMessage['headers'];
  /** The response is over (sent in full, or the connection went away). */
  closed: boolean;
  /** The whole body was handed to the socket. */
  completed: boolean;
}

export interface OriginSwitches {
  /** Serve every GET with 200 and the whole file, Range or not. */
  ignoreRange: boolean;
  /** Answer every ranged request with 416. */
  always416: boolean;
  /** Body bytes per second per response; 0 = unthrottled. */
  throttleBps: number;
  /** Bytes per write when throttled (default: a twentieth of a second's worth). */
  throttleChunk: number | null;
  /** Destroy the connection once the body reaches this file offset (once, then cleared). */
  dropAtByte: number | null;
  /** Destroy every response's connection after this many body bytes (a proxy or balancer that cuts transfers). */
  cutEvery: number | null;
  /** Answer the next `failCount` requests with this status. */
  failStatus: number;
  failCount: number;
  /** Send no ETag / Last-Modified. */
  noValidators: boolean;
  /**
   * Send nothing at or past this file offset until set back to null: a transfer held
   * mid-file for as long as a test needs (a throttle gets there only by racing the clock).
   */
  holdAt: number | null;
}

export interface TestOrigin {
  readonly port: number;
  /** With `tls`: the self-signed certificate (PEM file) to trust, e.g. as NODE_EXTRA_CA_CERTS. */
  readonly caPath: string | null;
  readonly switches: OriginSwitches;
  readonly requests: OriginRequest[];
  /** Body bytes written to sockets so far (all files). */
  bytesServed(): number;
  /** The most requests it was answering at one instant so far. */
  mostAtOnce(): number;
  url(name: string): string;
  /** Adds (or replaces) a file of random bytes, or the given bytes. */
  addFile(name: string, content: number | Buffer): OriginFile;
  /** Replaces the file with new random bytes of the same (or a new) size: new ETag and Last-Modified. */
  changeFile(name: string, size?: number): OriginFile;
  file(name: string): OriginFile;
  /** Ranged GETs seen for a file, as their start offsets. */
  rangeStarts(name: string): number[];
  close(): Promise<void>;
}

const origins = new Set<TestOrigin>();

/** A self-signed certificate for 127.0.0.1 (openssl), in a temp dir. */
function selfSigned(): { dir: string; key: Buffer; cert: Buffer; certPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pxc-origin-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { dir, key: readFileSync(keyPath), cert: readFileSync(certPath), certPath };
}

export async function startOrigin(opts: { tls?: boolean } = {}): Promise<TestOrigin> {
  const files = new Map<string, OriginFile>();
  const requests: OriginRequest[] = [];
  const sockets = new Set<Socket>();
  const switches: OriginSwitches = { ignoreRange: false, always416: false, throttleBps: 0, throttleChunk: null, dropAtByte: null, cutEvery: null, failStatus: 503, failCount: 0, noValidators: false, holdAt: null };
  let served = 0;
  let generation = 0;
  let open = 0;
  let most = 0;

  const makeFile = (content: number | Buffer): OriginFile => {
    const data = typeof content === 'number' ? randomBytes(content) : content;
    generation++;
    const sha256 = createHash('sha256').update(data).digest('hex');
    // A distinct second per generation so Last-Modified changes with the content.
    return { data, sha256, etag: `"${sha256.slice(0, 16)}-${generation}"`, lastModified: new Date(Date.UTC(2026, 0, 1) + generation * 1000).toUTCString() };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = typeof req.headers.range === 'string' ? req.headers.range : null;
    const ifRange = typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : null;
    const log: OriginRequest = { method: req.method ?? 'GET', path, range, ifRange, status: 0, headers: req.headers, closed: false, completed: false };
    requests.push(log);
    most = Math.max(most, ++open);
    res.once('close', () => {
      log.closed = true;
      open--;
    });
    const reply = (status: number, headers: Record<string, string | number> = {}, body?: string): void => {
      log.status = status;
      res.writeHead(status, headers);
      res.end(body);
    };
    if (switches.failCount > 0) {
      switches.failCount--;
      return reply(switches.failStatus, { 'content-type': 'text/plain' }, `forced ${switches.failStatus}\n`);
    }
    const file = files.get(path.replace(/^\//, ''));
    if (!file) return reply(404, { 'content-type': 'text/plain' }, 'not found\n');
    const size = file.data.length;
    const validators: Record<string, string> = switches.noValidators ? {} : { etag: file.etag, 'last-modified': file.lastModified };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    const rangeValid = m !== null && (ifRange === null || ifRange === file.etag || ifRange === file.lastModified);
    if (m && rangeValid && !switches.ignoreRange) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(Number(m[2]), size - 1);
      if (switches.always416 || start >= size) return reply(416, { 'content-range': `bytes */${size}`, ...validators });
      status = 206;
    }
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': end - start + 1, 'accept-ranges': 'bytes', ...validators };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    log.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    const chunk = switches.throttleBps > 0 ? (switches.throttleChunk ?? Math.max(1024, Math.min(64 * 1024, Math.floor(switches.throttleBps / 20)))) : 256 * 1024;
    let pos = start;
    const cut = switches.cutEvery === null ? null : start + switches.cutEvery;
    while (pos <= end) {
      while (switches.holdAt !== null && pos >= switches.holdAt && !res.destroyed) await new Promise((r) => setTimeout(r, 5));
      if (res.destroyed) return;
      let n = Math.min(chunk, end + 1 - pos);
      if (switches.holdAt !== null) n = Math.min(n, switches.holdAt - pos);
      if (cut !== null && pos + n > cut) {
        n = cut - pos;
        if (n === 0) {
          res.socket?.destroy();
          return;
        }
      }
      const drop = switches.dropAtByte;
      if (drop !== null && drop >= pos && drop <= end) {
        n = drop - pos;
        if (n === 0) {
          switches.dropAtByte = null;
          res.socket?.destroy();
          return;
        }
      }
      const ok = res.write(file.data.subarray(pos, pos + n));
      served += n;
      pos += n;
      if (!ok) {
        await new Promise<void>((r) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            r();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (switches.throttleBps > 0) await new Promise((r) => setTimeout(r, (n / switches.throttleBps) * 1000).unref());
    }
    log.completed = true;
    res.end();
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => res.destroy());
  };
  const tls = opts.tls ? selfSigned() : null;
  const server: Server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, onRequest) : createServer(onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const origin: TestOrigin = {
    port,
    caPath: tls?.certPath ?? null,
    switches,
    requests,
    bytesServed: () => served,
    mostAtOnce: () => most,
    url: (name) => `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${name}`,
    addFile(name, content) {
      const f = makeFile(content);
      files.set(name, f);
      return f;
    },
    changeFile(name, size) {
      const old = files.get(name);
      if (!old) throw new Error(`no file ${name}`);
      const f = makeFile(size ?? old.data.length);
      files.set(name, f);
      return f;
    },
    file(name) {
      const f = files.get(name);
      if (!f) throw new Error(`no file ${name}`);
      return f;
    },
    rangeStarts(name) {
      return requests.filter((r) => r.path === `/${name}` && r.method === 'GET' && r.range).map((r) => Number(/^bytes=(\d+)-/.exec(r.range!)?.[1]));
    },
    async close() {
      origins.delete(origin);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      if (tls) rmSync(tls.dir, { recursive: true, force: true });
    },
  };
  origins.add(origin);
  return origin;
}

/** Closes every origin still open (afterEach). */
export async function closeOrigins(): Promise<void> {
  await Promise.all([...origins].map((o) => o.close()));
}
