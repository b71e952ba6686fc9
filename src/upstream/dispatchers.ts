import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { undici } from '../net/undici.js';
import { ProxyctlError } from '../errors.js';
import { DIRECT } from '../config/proxy-spec.js';
import { guardPausedFinish } from './undici-patch.js';

/**
 * One connection pool per member of the proxy list (and one for DIRECT), built
 * the first time it is used and shared by every request through that member:
 * the downloads' and the health checker's probes. A job that trusts extra CAs
 * (--ca-file) gets a pool of its own per member and CA file, since the CAs are
 * part of the TLS connector.
 *
 * Through a proxy, http: URLs go as absolute-form requests and https: URLs
 * through CONNECT (curl's and cvmfs's way); downloads follow up to 5 redirects.
 */

export interface DispatcherTimeouts {
  /** Connect timeout to a proxy (proxy.timeout), ms. */
  proxyMs: number;
  /** Connect timeout to an origin without a proxy (proxy.timeout_direct), ms. */
  directMs: number;
}

interface Entry {
  /** The pool itself: health probes (they judge a redirect as an answer). */
  readonly base: Dispatcher;
  /** The same pool with redirects followed: downloads. */
  readonly fetch: Dispatcher;
}

const MAX_REDIRECTIONS = 5;

export class DispatcherPool {
  #timeouts: DispatcherTimeouts;
  readonly #entries = new Map<string, Entry>();
  readonly #cas = new Map<string, string[]>();

  constructor(timeouts: DispatcherTimeouts) {
    this.#timeouts = timeouts;
    guardPausedFinish();
  }

  /** The pool for health probes through `address` (no redirects followed). */
  probe(address: string): Dispatcher {
    return this.#entry(address, null).base;
  }

  /** The pool for a download through `address` (`DIRECT` or `http://host:port`), following redirects. */
  fetch(address: string, caFile: string | null): Dispatcher {
    return this.#entry(address, caFile).fetch;
  }

  /**
   * New timeouts: pools built from now on use them; the current ones are closed
   * gracefully (requests in flight finish on them).
   */
  setTimeouts(timeouts: DispatcherTimeouts): void {
    if (timeouts.proxyMs === this.#timeouts.proxyMs && timeouts.directMs === this.#timeouts.directMs) return;
    this.#timeouts = timeouts;
    this.#drop(() => true);
  }

  /** Closes (gracefully) the pools of members no longer in the list. */
  retain(addresses: ReadonlySet<string>): void {
    this.#drop((address) => !addresses.has(address));
  }

  async close(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(all.map((e) => e.base.destroy().catch(() => undefined)));
  }

  #drop(which: (address: string, caFile: string | null) => boolean): void {
    for (const [key, entry] of this.#entries) {
      const [address, ca] = key.split('\0') as [string, string];
      if (!which(address, ca === '' ? null : ca)) continue;
      this.#entries.delete(key);
      void entry.base.close().catch(() => undefined);
    }
  }

  #entry(address: string, caFile: string | null): Entry {
    const key = `${address}\0${caFile ?? ''}`;
    let e = this.#entries.get(key);
    if (!e) {
      const base = this.#build(address, caFile === null ? undefined : this.#ca(caFile));
      e = { base, fetch: base.compose(undici().interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS })) };
      this.#entries.set(key, e);
    }
    return e;
  }

  #build(address: string, ca: string[] | undefined): Dispatcher {
    const { Agent, ProxyAgent } = undici();
    if (address === DIRECT) return new Agent({ connect: { timeout: this.#timeouts.directMs, ...(ca ? { ca } : {}) } });
    const timeout = this.#timeouts.proxyMs;
    // proxyTunnel false: absolute-form requests for http:, CONNECT only for https:.
    return new ProxyAgent({ uri: address, proxyTunnel: false, proxyTls: { timeout }, requestTls: { timeout, ...(ca ? { ca } : {}) } });
  }

  /** The built-in CAs plus the file's (as NODE_EXTRA_CA_CERTS adds them). */
  #ca(caFile: string): string[] {
    let ca = this.#cas.get(caFile);
    if (!ca) {
      ca = [...rootCertificates, readCaFile(caFile)];
      this.#cas.set(caFile, ca);
    }
    return ca;
  }
}

/** The PEM text of a CA file, or PXC_ERR_BAD_CA_FILE naming it. */
export function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProxyctlError('PXC_ERR_BAD_CA_FILE', `CA file ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) throw new ProxyctlError('PXC_ERR_BAD_CA_FILE', `CA file ${path}: no PEM certificate in it`);
  return pem;
}
