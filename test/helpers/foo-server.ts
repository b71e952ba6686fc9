import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenLoopback, type LoopbackServer } from './servers.js';

/**
 * A reference Foo server: answers each `REQ <seq> [data]` line, in order,
 * with `ACK <seq> ...` (or `NAK <seq> ...` when `nakEvery` divides seq), and
 * any other line with `NAK 0 ERRDECODE`. With `fragment`, every reply is
 * written in small pieces so the proxy sees lines split across packets.
 */
export interface FooServerOptions {
  port?: number;
  /** NAK every REQ whose seq is divisible by this (0: never). */
  nakEvery?: number;
  /** Write replies in pieces of this many bytes (0: whole). */
  fragment?: number;
}

export interface FooServer extends LoopbackServer {
  /** Lines received, by kind. */
  readonly received: { req: number; invalid: number };
}

export function fooReply(line: string, nakEvery: number): string {
  const m = /^REQ[ \t]+(-?\d+)(?:[ \t](.*))?\r?$/.exec(line);
  if (!m) return 'NAK 0 ERRDECODE\n';
  const seq = Number(m[1]);
  return nakEvery > 0 && seq % nakEvery === 0 ? `NAK ${m[1]} no\n` : `ACK ${m[1]}${m[2] !== undefined ? ` ${m[2]}` : ''}\n`;
}

export async function startFooServer(opts: FooServerOptions = {}): Promise<FooServer> {
  const nakEvery = opts.nakEvery ?? 0;
  const fragment = opts.fragment ?? 0;
  const sockets = new Set<Socket>();
  const received = { req: 0, invalid: 0 };
  const server: Server = createServer({ noDelay: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buf += chunk;
      let out = '';
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const reply = fooReply(line, nakEvery);
        if (reply.startsWith('NAK 0 ERRDECODE')) received.invalid++;
        else received.req++;
        out += reply;
      }
      if (!out) return;
      if (fragment > 0) for (let i = 0; i < out.length; i += fragment) s.write(out.slice(i, i + fragment));
      else s.write(out);
    });
  });
  return { ...(await listenLoopback(server, sockets, opts.port)), received };
}

/** A Foo client: write raw text (whole, or one byte per event-loop turn), collect reply lines. */
export interface FooClient {
  readonly lines: string[];
  readonly closed: Promise<void>;
  send(text: string): void;
  sendByteByByte(text: string): Promise<void>;
  waitLines(n: number, timeoutMs?: number): Promise<string[]>;
  close(): void;
}

export function openFooClient(port: number, host = '127.0.0.1'): Promise<FooClient> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true });
    const lines: string[] = [];
    let buf = '';
    let waiter: (() => void) | null = null;
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    void closed.then(() => waiter?.());
    s.setEncoding('utf8');
    s.on('error', () => undefined);
    s.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      waiter?.();
    });
    s.once('error', reject);
    s.once('connect', () =>
      resolve({
        lines,
        closed,
        send: (text) => void s.write(text),
        sendByteByByte: async (text) => {
          const bytes = Buffer.from(text);
          for (let i = 0; i < bytes.length; i++) {
            s.write(bytes.subarray(i, i + 1));
            await new Promise((r) => setImmediate(r));
          }
        },
        waitLines: (n, timeoutMs = 20_000) =>
          new Promise<string[]>((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`got ${lines.length} of ${n} lines`)), timeoutMs);
            waiter = () => {
              if (lines.length >= n || s.destroyed) {
                clearTimeout(timer);
                waiter = null;
                if (lines.length >= n) res(lines.slice());
                else rej(new Error(`connection closed after ${lines.length} of ${n} lines`));
              }
            };
            waiter();
          }),
        close: () => s.destroy(),
      }),
    );
  });
}
