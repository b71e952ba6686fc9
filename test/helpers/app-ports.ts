import type { AppInfo } from '../../src/forward/app.js';

/**
 * The ports an app listens on, as bound, in config order: tests configure
 * `ports: [0]` and read the kernel's choice back (never freePort(): a port
 * found free, closed and bound again later can be taken in between).
 */
export async function boundPorts(agent: { rpc<T>(method: string, params?: object): Promise<T> }, app: string): Promise<number[]> {
  const info = await agent.rpc<AppInfo>('app.info', { name: app });
  return info.ports.map((p, i) => {
    if (p.bound_port === null) throw new Error(`app ${app}: port #${i} (${p.port}) is not listening: ${p.error ?? p.state}`);
    return p.bound_port;
  });
}

/** The first (or only) port of an app, as bound. */
export async function boundPort(agent: { rpc<T>(method: string, params?: object): Promise<T> }, app: string): Promise<number> {
  return (await boundPorts(agent, app))[0]!;
}
