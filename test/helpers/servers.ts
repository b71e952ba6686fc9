import type { AddressInfo, Server, Socket } from 'node:net';

/**
 * The TCP test servers the helpers start (echo, Foo), closed together by
 * `closeTestServers()` in afterEach, as `cleanupAgents()` does for agents.
 */

export interface LoopbackServer {
  readonly port: number;
  /** `127.0.0.1:<port>`, as an app target. */
  readonly address: string;
  /** Stops listening and cuts open connections. */
  close(): Promise<void>;
}

const running = new Set<LoopbackServer>();

/** Listens on 127.0.0.1 (port 0 unless given); `close()` also destroys `sockets`, the server's open connections. */
export async function listenLoopback(server: Server, sockets: ReadonlySet<Socket>, port = 0): Promise<LoopbackServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const handle: LoopbackServer = {
    port: bound,
    address: `127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        running.delete(handle);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  running.add(handle);
  return handle;
}

export async function closeTestServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.close()));
}
