import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ForwardProxy } from '../../helpers/forward-proxy.js';

/** The test forward proxy is itself tested: the upstream and download suites rely on it. */

let origin: Server;
let originPort = 0;
const proxies: ForwardProxy[] = [];

async function startOrigin(): Promise<void> {
  origin = createServer((req, res) => {
    const body = Buffer.alloc(req.url === '/big' ? 4096 : 5, 'x');
    res.writeHead(200, { 'content-length': body.length, 'x-path': req.url ?? '' });
    res.end(body);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originPort = (origin.address() as AddressInfo).port;
}

async function proxy(): Promise<ForwardProxy> {
  const p = await ForwardProxy.start();
  proxies.push(p);
  return p;
}

function viaProxy(p: ForwardProxy, path: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p.port, path: `http://127.0.0.1:${originPort}${path}`, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await new Promise<void>((r) => (origin ? origin.close(() => r()) : r()));
});

describe('test forward proxy', () => {
  it('forwards absolute-form requests and counts them', async () => {
    await startOrigin();
    const p = await proxy();
    const r = await viaProxy(p, '/a?b=1');
    expect(r.status).toBe(200);
    expect(r.headers['x-path']).toBe('/a?b=1');
    expect(p.requests).toBe(1);
    expect(p.log[0]?.target).toBe(`http://127.0.0.1:${originPort}/a?b=1`);
  });

  it('tunnels CONNECT', async () => {
    await startOrigin();
    const p = await proxy();
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(p.port, '127.0.0.1');
      let buf = '';
      s.setEncoding('utf8');
      s.once('connect', () => s.write(`CONNECT 127.0.0.1:${originPort} HTTP/1.1\r\nHost: 127.0.0.1:${originPort}\r\n\r\n`));
      s.on('data', (d: string) => {
        buf += d;
        if (buf.includes('200 Connection Established\r\n\r\n') && !buf.includes('GET-SENT')) {
          buf += 'GET-SENT';
          s.write('GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        }
      });
      s.once('end', () => resolve(buf));
      s.once('error', reject);
    });
    expect(reply).toContain('x-path: /t');
    expect(p.connects).toBe(1);
  });

  it('refuses while stopped and serves again on the same port after restart', async () => {
    await startOrigin();
    const p = await proxy();
    const port = p.port;
    await p.stop();
    await expect(viaProxy(p, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await p.restart();
    expect(p.port).toBe(port);
    expect((await viaProxy(p, '/')).status).toBe(200);
  });

  it('answers 502 in bad-gateway mode and marks squid errors', async () => {
    await startOrigin();
    const p = await proxy();
    p.mode = 'bad-gateway';
    expect((await viaProxy(p, '/')).status).toBe(502);
    p.mode = 'squid-error';
    const r = await viaProxy(p, '/');
    expect(r.status).toBe(502);
    expect(r.headers['x-squid-error']).toMatch(/^ERR_/);
    expect(p.requests).toBe(2);
  });

  it('delivers the full body when slowed down', async () => {
    await startOrigin();
    const p = await proxy();
    p.slow(40_000);
    const r = await viaProxy(p, '/big');
    expect(r.body.length).toBe(4096);
  });
});
