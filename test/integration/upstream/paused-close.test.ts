import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DispatcherPool } from '../../../src/upstream/dispatchers.js';

/**
 * A server that closes the connection right after the body (HTTP/1.0, Connection: close)
 * while the reader is behind: undici 7 kills the process with an uncatchable assertion
 * (nodejs/undici#5360) when the body's last bytes arrive on a paused parser; the pool's
 * dispatchers (src/upstream/undici-patch.ts) read the body to its end instead.
 */

const FRAMINGS: Record<string, (body: Buffer) => Buffer> = {
  'Content-Length, Connection: close': (b) => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n`), b]),
  'HTTP/1.0 with Content-Length': (b) => Buffer.concat([Buffer.from(`HTTP/1.0 200 OK\r\nContent-Length: ${b.length}\r\n\r\n`), b]),
  'HTTP/1.0 ended by the close': (b) => Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), b]),
  'chunked, Connection: close': (b) => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]),
};

let server: Server;
let port = 0;
const sockets = new Set<Socket>();
/** Resolves when the server has handed the last response's bytes and its FIN to the kernel. */
let sent: Promise<void> = Promise.resolve();
const pool = new DispatcherPool({ proxyMs: 2000, directMs: 2000 });

beforeAll(async () => {
  server = createServer((sock) => {
    sockets.add(sock);
    sent = new Promise((r) => sock.once('finish', () => r()));
    sock.once('data', (d) => {
      const [, framing, size] = /^GET \/(\d+)\/(\d+)/.exec(d.toString())!;
      sock.end(Object.values(FRAMINGS)[Number(framing)]!(Buffer.alloc(Number(size), 0x61)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await pool.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('a body the server closes after its last byte, read late', () => {
  const cases = Object.keys(FRAMINGS).flatMap((name, f) => [64 * 1024, 64 * 1024 + 1, 200 * 1024].map((size) => [name, f, size] as const));
  it.each(cases)('is read to its end (%s, %i, %i bytes)', async (_name, framing, size) => {
    const res = await request(`http://127.0.0.1:${port}/${framing}/${size}`, { dispatcher: pool.fetch('DIRECT', null) });
    // The reader is behind: the parser pauses, and the server's FIN arrives meanwhile. On loopback
    // the bytes are in this end's socket once the server's 'finish' fired; two turns of the event
    // loop let the client's socket take them in (what a wait of 100 ms did, on a fast machine).
    await sent;
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    // Unread body is waiting: the scenario, not a reader that kept up.
    expect(res.body.readableLength).toBeGreaterThan(0);
    let got = 0;
    for await (const chunk of res.body) got += (chunk as Buffer).length;
    expect(got).toBe(size);
  });
});
