import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './echo-server.js';
import { accepts, hasBinary } from './daemon.js';
import { waitFor } from './wait.js';

/**
 * A real nginx origin for tests, in the foreground (no master, one worker) with
 * a temp prefix, on free 127.0.0.1 ports: files under `root` served with Range,
 * ETag and Last-Modified, and
 *   /limited/NAME  — the same file at `limitRate` bytes/s per connection (limit_rate),
 *   /norange/NAME  — the same file without Range support (max_ranges 0: always 200),
 * plus, with `tls`, the same over https with a self-signed certificate made by
 * openssl for 127.0.0.1 (`caPath` to trust it). Every request is in `requests()`
 * with the body bytes nginx sent.
 * `.ci/run` installs nginx-light; where it is missing, `describe.skipIf(!hasNginx())`.
 */

export interface NginxRequest {
  method: string;
  uri: string;
  status: number;
  /** Body bytes nginx sent (a request cut short counts what went out). */
  bytes: number;
  range: string | null;
  ifRange: string | null;
}

export interface NginxFile {
  data: Buffer;
  sha256: string;
}

export interface Nginx {
  readonly port: number;
  /** The https port (with `tls`). */
  readonly tlsPort: number | null;
  /** PEM of the self-signed certificate (with `tls`). */
  readonly caPath: string | null;
  readonly root: string;
  /** `http://127.0.0.1:PORT/PATH` (`https` and the TLS port with `tls: true`). */
  url(path: string, opts?: { tls?: boolean }): string;
  /** Writes a file of random bytes (or the given ones) under the root; subdirectories are created. */
  addFile(path: string, content: number | Buffer): NginxFile;
  /** The access log so far, in order. */
  requests(): NginxRequest[];
  /** Body bytes sent for paths starting with `prefix`. */
  bytesServed(prefix?: string): number;
  stop(): Promise<void>;
}

const BIN = process.env.NGINX_BIN ?? 'nginx';
export const hasNginx = (): boolean => hasBinary(BIN);

/** A self-signed certificate for 127.0.0.1, with its key, in `dir`. */
export function selfSignedCert(dir: string): { certPath: string; keyPath: string } {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execOpenssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  return { certPath, keyPath };
}

function execOpenssl(args: string[]): void {
  const r = spawnSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

const LOG_FORMAT = `'$request_method $uri $status $body_bytes_sent "$http_range" "$http_if_range"'`;

const live = new Set<Nginx>();

export async function startNginx(opts: { tls?: boolean; limitRate?: number } = {}): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'pxc-nginx-'));
  const root = join(prefix, 'html');
  mkdirSync(root);
  mkdirSync(join(prefix, 'tmp'));
  const cert = opts.tls ? selfSignedCert(prefix) : null;
  const logPath = join(prefix, 'access.log');
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const tlsPort = opts.tls ? await freePort() : null;
    const locations = `
      location /limited/ { alias ${root}/; limit_rate ${opts.limitRate ?? 1024 * 1024}; }
      location /norange/ { alias ${root}/; max_ranges 0; }`;
    const conf = `daemon off; master_process off; worker_processes 1; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
  log_format pxc ${LOG_FORMAT};
  access_log ${logPath} pxc;
  sendfile on; tcp_nopush on; keepalive_requests 10000; default_type application/octet-stream;
  client_body_temp_path ${prefix}/tmp; proxy_temp_path ${prefix}/tmp; fastcgi_temp_path ${prefix}/tmp; uwsgi_temp_path ${prefix}/tmp; scgi_temp_path ${prefix}/tmp;
  server { listen 127.0.0.1:${port}; root ${root}; ${locations} }
  ${cert ? `server { listen 127.0.0.1:${tlsPort} ssl; ssl_certificate ${cert.certPath}; ssl_certificate_key ${cert.keyPath}; root ${root}; ${locations} }` : ''}
}
`;
    const confPath = join(prefix, 'nginx.conf');
    writeFileSync(confPath, conf);
    const child: ChildProcess = spawn(BIN, ['-p', prefix, '-c', confPath, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let exited = false;
    const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
    try {
      await waitFor(`nginx on port ${port}`, async () => {
        if (exited) throw new Error(`nginx exited: ${stderr}${readFileSync(join(prefix, 'error.log'), 'utf8')}`);
        return (await accepts(port)) && (tlsPort === null || (await accepts(tlsPort)));
      }, { timeoutMs: 30_000 });
    } catch (err) {
      if (!exited) child.kill('SIGKILL');
      await exit;
      // Another process took a port between freePort() and nginx's bind: try other ports.
      if (tries < 3 && /Address already in use/.test((err as Error).message)) continue;
      rmSync(prefix, { recursive: true, force: true });
      throw err;
    }
    const n: Nginx = {
      port,
      tlsPort,
      caPath: cert?.certPath ?? null,
      root,
      url: (path, o = {}) => (o.tls ? `https://127.0.0.1:${tlsPort}/${path.replace(/^\//, '')}` : `http://127.0.0.1:${port}/${path.replace(/^\//, '')}`),
      addFile(path, content) {
        const data = typeof content === 'number' ? randomBytes(content) : content;
        const file = join(root, path);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, data);
        return { data, sha256: createHash('sha256').update(data).digest('hex') };
      },
      requests() {
        let text = '';
        try {
          text = readFileSync(logPath, 'utf8');
        } catch {
          return [];
        }
        return text
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const m = /^(\S+) (\S+) (\d+) (\d+) "([^"]*)" "([^"]*)"$/.exec(line);
            if (!m) throw new Error(`unparsed nginx log line: ${line}`);
            return { method: m[1]!, uri: m[2]!, status: Number(m[3]), bytes: Number(m[4]), range: m[5] === '-' ? null : m[5]!, ifRange: m[6] === '-' ? null : m[6]! };
          });
      },
      bytesServed(prefixPath = '/') {
        return n.requests().filter((r) => r.uri.startsWith(prefixPath)).reduce((s, r) => s + r.bytes, 0);
      },
      async stop() {
        live.delete(n);
        if (!exited) child.kill('SIGTERM');
        await exit;
        rmSync(prefix, { recursive: true, force: true });
      },
    };
    live.add(n);
    return n;
  }
}

/** Stops every nginx still running: call from afterEach. */
export async function cleanupNginx(): Promise<void> {
  await Promise.all([...live].map((n) => n.stop()));
}
