import { createConnection, type Socket } from 'node:net';

/** Raw clients of the control socket, for tests of its framing and dialects. */

export function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server sends until it closes; write errors are ignored (the reply is what counts). */
export function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', () => undefined);
    s.once('close', () => resolve(out));
  });
}

/** Sends JSON-RPC lines on one connection and collects `n` reply lines. */
export async function rpcLines(path: string, lines: string[], n = lines.length): Promise<Array<Record<string, any>>> {
  const s = await connect(path);
  s.setEncoding('utf8');
  let buf = '';
  const replies: Array<Record<string, any>> = [];
  const done = new Promise<void>((resolve) => {
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        replies.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        if (replies.length === n) resolve();
      }
    });
  });
  s.write(lines.join('\n') + '\n');
  await done;
  s.destroy();
  return replies;
}
