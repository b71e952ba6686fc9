import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A real HTTP forward proxy on 127.0.0.1 for tests, as squid or tinyproxy
 * would behave from a client's point of view:
 *   - absolute-form requests (`GET http://origin/path HTTP/1.1`) are forwarded to the origin;
 *   - `CONNECT host:port` opens a tunnel (for https, or any TCP).
 *
 * Faults a test can switch on and off at run time:
 *   - `stop()` / `restart()`: the port refuses connections, then serves again on the SAME port
 *     (open connections are destroyed on stop, so transfers in flight see a reset);
 *   - `mode`: 'forward' (default), 'bad-gateway' (every request and CONNECT gets 502),
 *     'unavailable' (503), 'squid-error' (502 + `X-Squid-Error`, as squid's own error pages),
 *     'reset' (the client connection is destroyed without an answer), 'hang' (never answers);
 *   - `slow(bytesPerSecond)`: response bodies (and tunnelled bytes towards the client) are
 *     throttled; `slow(null)` lifts it; `delayMs` delays each answer's start.
 *
 * Counts what it saw: `requests` (absolute-form, incl. refused ones), `connects` (CONNECT),
 * `log` (method, target, headers of each) — e.g. to check a Range header reached the proxy.
 */

export type ForwardProxyMode = 'forward' | 'bad-gateway' | 'unavailable' | 'squid-error' | 'reset' | 'hang';

export interface ProxiedRequest {
  readonly method: string;
  /** Absolute URL for forwarded requests, `host:port` for CONNECT. */
  readonly target: string;
  readonly headers: IncomingMessage['headers'];
}

export interface ForwardProxyOptions {
  /** Listen on this port (default: a free one). */
  port?: number;
  mode?: ForwardProxyMode;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export class ForwardProxy {
  /** The port, fixed for the proxy's life (restart() reuses it). */
  port = 0;
  mode: ForwardProxyMode;
  /** Milliseconds to wait before answering anything (0 = at once). */
  delayMs = 0;
  requests = 0;
  connects = 0;
  readonly log: ProxiedRequest[] = [];

  #server: Server | undefined;
  #bytesPerSecond: number | null = null;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  private constructor(opts: ForwardProxyOptions) {
    this.port = opts.port ?? 0;
    this.mode = opts.mode ?? 'forward';
  }

  static async start(opts: ForwardProxyOptions = {}): Promise<ForwardProxy> {
    const proxy = new ForwardProxy(opts);
    await proxy.restart();
    return proxy;
  }

  /** `http://127.0.0.1:PORT` — the form a proxy string takes. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `127.0.0.1:PORT`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get listening(): boolean {
    return this.#server?.listening ?? false;
  }

  /** Every request the proxy saw (absolute-form + CONNECT). */
  get total(): number {
    return this.requests + this.connects;
  }

  /** Throttles bodies to about this many bytes per second; null = full speed. */
  slow(bytesPerSecond: number | null): void {
    this.#bytesPerSecond = bytesPerSecond;
  }

  resetCounters(): void {
    this.requests = 0;
    this.connects = 0;
    this.log.length = 0;
  }

  /** Listens (again) on the same port. */
  async restart(): Promise<void> {
    if (this.#server?.listening) return;
    const server = createServer({ keepAlive: true }, (req, res) => this.#onRequest(req, res));
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#onConnect(req, socket, head));
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and destroys every open connection (clients see a reset, new ones a refusal). */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Alias of stop() for afterEach. */
  close(): Promise<void> {
    return this.stop();
  }

  #later(fn: () => void): void {
    if (this.delayMs <= 0) return fn();
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, this.delayMs);
    this.#timers.add(t);
  }

  /** Answers on behalf of a fault mode; true when the request must not be forwarded. */
  #fault(socketOrRes: { res?: ServerResponse; socket?: Socket }): boolean {
    const { res, socket } = socketOrRes;
    const status = this.mode === 'bad-gateway' || this.mode === 'squid-error' ? 502 : this.mode === 'unavailable' ? 503 : 0;
    if (this.mode === 'hang') return true;
    if (this.mode === 'reset') {
      (res?.socket ?? socket)?.destroy();
      return true;
    }
    if (status === 0) return false;
    const body = `proxy error: test proxy in mode ${this.mode}\n`;
    const extra = this.mode === 'squid-error' ? { 'x-squid-error': 'ERR_CONNECT_FAIL 111' } : {};
    if (res) {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...extra });
      res.end(body);
    } else if (socket) {
      const head = Object.entries(extra).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${status} ${status === 502 ? 'Bad Gateway' : 'Service Unavailable'}\r\n${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    return true;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    this.log.push({ method: req.method ?? 'GET', target: req.url ?? '', headers: req.headers });
    this.#later(() => {
      if (this.#fault({ res })) return;
      let target: URL;
      try {
        target = new URL(req.url ?? '');
        if (target.protocol !== 'http:') throw new Error('not http');
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('this is a forward proxy: send an absolute-form http:// request or CONNECT\n');
        return;
      }
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      headers['via'] = '1.1 test-forward-proxy';
      const upstream = httpRequest({ host: target.hostname, port: target.port || 80, method: req.method, path: target.pathname + target.search, headers }, (up) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        const body = this.#bytesPerSecond === null ? up : up.pipe(new Throttle(this.#bytesPerSecond, this.#timers));
        body.pipe(res);
        up.once('error', () => res.destroy());
        body.once('error', () => res.destroy());
      });
      upstream.once('error', (err: NodeJS.ErrnoException) => {
        if (res.headersSent) return void res.destroy();
        const body = `proxy: cannot reach ${target.host}: ${err.code ?? err.message}\n`;
        res.writeHead(502, { 'content-type': 'text/plain', 'x-squid-error': `ERR_CONNECT_FAIL ${err.code ?? ''}`.trim(), 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      req.pipe(upstream);
      res.once('close', () => upstream.destroy());
    });
  }

  #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.connects++;
    const target = req.url ?? '';
    this.log.push({ method: 'CONNECT', target, headers: req.headers });
    socket.on('error', () => socket.destroy());
    this.#later(() => {
      if (this.#fault({ socket })) return;
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
      if (!m) return void socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      const origin = netConnect(Number(m[2]), m[1]);
      this.#sockets.add(origin);
      origin.once('close', () => this.#sockets.delete(origin));
      origin.once('connect', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) origin.write(head);
        const down = this.#bytesPerSecond === null ? origin : origin.pipe(new Throttle(this.#bytesPerSecond, this.#timers));
        down.pipe(socket);
        socket.pipe(origin);
      });
      origin.once('error', (err: NodeJS.ErrnoException) => {
        // Before the 200 went out the client can still be told why; after it, a reset is all there is.
        if (!socket.destroyed && socket.bytesWritten === 0) socket.end(`HTTP/1.1 502 Bad Gateway\r\nX-Squid-Error: ERR_CONNECT_FAIL ${err.code ?? ''}\r\nConnection: close\r\n\r\n`);
        else socket.destroy();
      });
      socket.once('close', () => origin.destroy());
    });
  }
}

/** Passes bytes on at about `bytesPerSecond`, in slices every 50 ms. */
class Throttle extends Transform {
  readonly #perTick: number;
  readonly #timers: Set<NodeJS.Timeout>;

  constructor(bytesPerSecond: number, timers: Set<NodeJS.Timeout>) {
    super();
    this.#perTick = Math.max(1, Math.floor(bytesPerSecond / 20));
    this.#timers = timers;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let offset = 0;
    const step = (): void => {
      if (this.destroyed) return;
      const slice = chunk.subarray(offset, offset + this.#perTick);
      offset += slice.length;
      this.push(slice);
      if (offset >= chunk.length) return done();
      const t = setTimeout(() => {
        this.#timers.delete(t);
        step();
      }, 50);
      this.#timers.add(t);
    };
    step();
  }
}
