import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { waitFor } from '../../helpers/wait.js';

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const closers: (() => void)[] = [];
afterEach(async () => {
  closers.splice(0).forEach((c) => c());
  await cleanupAgents();
});

describe('backpressure (real agent)', () => {
  it('1 GiB to a slow reader: the proxy’s memory does not grow with it (< 50 MB)', { timeout: 120_000 }, async () => {
    const total = 1024 ** 3;
    let received = 0;
    // Every accepted socket (health checks connect too) is read only when the slow reader says so.
    const sinks = new Set<Socket>();
    let reading = false;
    const server = createServer((s) => {
      sinks.add(s);
      s.on('close', () => sinks.delete(s));
      if (!reading) s.pause(); // not reading at all until the whole path is backed up
      s.on('data', (d: Buffer) => (received += d.length));
    });
    const setReading = (on: boolean) => {
      reading = on;
      for (const s of sinks) if (on) s.resume();
      else s.pause();
    };
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(() => server.close());
    const port = await freePort();
    const agent = await startAgent({ config: { apps: [{ name: 'bulk', ports: [port], targets: [`127.0.0.1:${(server.address() as { port: number }).port}`] }] }, logLevel: 'warn' });

    const client = connect({ port, host: '127.0.0.1' });
    closers.push(() => client.destroy());
    await new Promise((r) => client.once('connect', r));
    await waitFor('sink connected', () => sinks.size > 0);
    const baseline = rssBytes(agent.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(agent.pid))), 50);
    closers.push(() => clearInterval(sampler));

    const chunk = Buffer.alloc(256 * 1024, 'x');
    let sent = 0;
    let blocked = false;
    const writeAll = new Promise<void>((resolve) => {
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!client.write(chunk)) {
            blocked = true;
            client.once('drain', pump);
            return;
          }
        }
        client.end(resolve);
      };
      pump();
    });
    // Phase 1: the reader reads nothing; the writer must get stuck after a bounded amount.
    await waitFor('the writer stuck (nothing more accepted for 250 ms)', async () => {
      const before = sent;
      await new Promise((r) => setTimeout(r, 250));
      return blocked && sent === before;
    });
    // What is in flight: socket buffers of three sockets and the kernel's, not the stream.
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    // Phase 2: a slow reader: reads 20 ms out of every 40 until everything arrived.
    let slowReader = true;
    const slow = setInterval(() => {
      setReading(true);
      // Once the writer is done the reader reads freely: a late pause must not stop it.
      setTimeout(() => slowReader && setReading(false), 20);
    }, 40);
    closers.push(() => clearInterval(slow));
    await writeAll;
    clearInterval(slow);
    slowReader = false;
    setReading(true);
    await waitFor('all bytes at the sink', () => received === total, { timeoutMs: 100_000 });
    clearInterval(sampler);
    expect(peak - baseline).toBeLessThan(50 * 1024 * 1024);
  });
});
