import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenLoopback, type LoopbackServer } from './servers.js';

/**
 * A TCP echo server for forwarding tests, on 127.0.0.1 and port 0 (or a given
 * port, to restart on the same one). Echoes with backpressure and relays
 * half-close: the client's FIN ends the echo once the echoes are written.
 * `connections` counts accepted connections; `open` the ones still open.
 */
export interface EchoServer extends LoopbackServer {
  connections: number;
  readonly open: number;
}

export async function startEchoServer(opts: { port?: number; greeting?: string } = {}): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (opts.greeting) s.write(opts.greeting);
    s.pipe(s);
  });
  const base = await listenLoopback(server, sockets, opts.port);
  return {
    ...base,
    get connections() {
      return connections;
    },
    set connections(n: number) {
      connections = n;
    },
    get open() {
      return sockets.size;
    },
  };
}

/** A port that was free a moment ago (listen on 0, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Connects, writes `payload`, half-closes, and resolves with everything received until the server's end. */
export function roundTrip(port: number, payload: string | Buffer, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true });
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('error', reject);
    s.once('connect', () => s.end(payload));
    s.once('end', () => {
      s.destroy();
      resolve(Buffer.concat(parts));
    });
  });
}

/** Connects and resolves with how the connection ended: 'closed' (no data, closed by the peer) or the data received. */
export function connectAndWaitClose(port: number, host = '127.0.0.1'): Promise<{ data: string; error: string | null }> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let data = '';
    let error: string | null = null;
    s.setEncoding('utf8');
    s.on('data', (d: string) => (data += d));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.once('close', () => resolve({ data, error }));
  });
}

/** An open connection that echoes: send a line, wait for it back. */
export interface EchoClient {
  readonly socket: Socket;
  echo(text: string): Promise<string>;
  close(): void;
}

export function openEchoClient(port: number, host = '127.0.0.1'): Promise<EchoClient> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    let buf = '';
    let waiting: { want: number; resolve: (v: string) => void; reject: (e: Error) => void } | null = null;
    s.setEncoding('utf8');
    const settle = () => {
      if (waiting && buf.length >= waiting.want) {
        const w = waiting;
        waiting = null;
        const out = buf.slice(0, w.want);
        buf = buf.slice(w.want);
        w.resolve(out);
      }
    };
    s.on('data', (d: string) => {
      buf += d;
      settle();
    });
    s.on('close', () => waiting?.reject(new Error('connection closed')));
    s.once('error', (e) => (waiting ? waiting.reject(e) : reject(e)));
    s.once('connect', () =>
      resolve({
        socket: s,
        echo: (text) =>
          new Promise<string>((res, rej) => {
            waiting = { want: text.length, resolve: res, reject: rej };
            s.write(text);
            settle();
          }),
        close: () => s.destroy(),
      }),
    );
  });
}
