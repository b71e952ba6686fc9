import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A PAC file served from a local origin (port 0): change `body` or `status` to change what it answers. */
export interface PacOrigin {
  readonly url: string;
  body: string;
  status: number;
  requests: number;
  close(): Promise<void>;
}

const servers = new Set<Server>();

export async function closePacOrigins(): Promise<void> {
  await Promise.all([...servers].map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })));
  servers.clear();
}

export async function startPacOrigin(body: string): Promise<PacOrigin> {
  const origin = { url: '', body, status: 200, requests: 0 } as PacOrigin;
  const server = createServer((req, res) => {
    origin.requests++;
    res.writeHead(origin.status, { 'content-type': 'application/x-ns-proxy-autoconfig' });
    res.end(origin.status === 200 ? origin.body : 'no');
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (origin as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wpad.dat`;
  origin.close = () => new Promise<void>((resolve) => { servers.delete(server); server.closeAllConnections(); server.close(() => resolve()); });
  return origin;
}

/** A PAC file answering `answer` for every URL. */
export const pacAnswering = (answer: string): string => `function FindProxyForURL(url, host) {\n  if (isPlainHostName(host)) return "DIRECT";\n  return ${JSON.stringify(answer)};\n}\n`;
