import { ProxyctlError } from '../../errors.js';
import { DATA_PROXY_PATH } from './protocol.js';

/** Resolves `http://host:port` or `http://host:port/rpc` to the RPC endpoint. */
export function dataProxyUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ProxyctlError('PXC_ERR_BAD_URL', `--url: "${input}" is not a URL (expected http://HOST:PORT)`);
  }
  if (url.protocol !== 'http:') throw new ProxyctlError('PXC_ERR_BAD_URL', `--url: "${input}": only http:// is served by the data proxy`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = DATA_PROXY_PATH;
  return url;
}
