import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { describeError } from './classify.js';

/**
 * What each proxy's host name resolves to, for `proxy info` (cvmfs_talk shows
 * the addresses behind a name: one name can hide a round-robin of squids).
 * Looked up once per member and cached; `refresh` (proxy rebalance) looks them
 * up again. Lookups never block a request: the router resolves on its own.
 */

export interface ResolvedAddresses {
  /** IP addresses, in the resolver's order; null when the lookup failed or is still running. */
  readonly addresses: string[] | null;
  readonly error: string | null;
}

export type Lookup = (host: string) => Promise<string[]>;

const systemLookup: Lookup = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

function hostOf(member: string): string | null {
  try {
    return new URL(member).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
}

export class AddressCache {
  readonly #lookup: Lookup;
  readonly #timeoutMs: number;
  readonly #entries = new Map<string, Promise<ResolvedAddresses>>();

  constructor(opts: { lookup?: Lookup; timeoutMs: number }) {
    this.#lookup = opts.lookup ?? systemLookup;
    this.#timeoutMs = opts.timeoutMs;
  }

  /** The addresses of each member (`http://host:port`), looking up the ones not cached yet. */
  async resolve(members: readonly string[]): Promise<Map<string, ResolvedAddresses>> {
    const out = new Map<string, ResolvedAddresses>();
    await Promise.all(members.map(async (m) => out.set(m, await this.#get(m))));
    return out;
  }

  /** Forgets every entry and looks the given members up again (proxy rebalance). */
  refresh(members: readonly string[]): Promise<unknown> {
    this.#entries.clear();
    return this.resolve(members);
  }

  /** Drops the entries of members that left the list. */
  retain(members: ReadonlySet<string>): void {
    for (const m of this.#entries.keys()) {
      if (!members.has(m)) this.#entries.delete(m);
    }
  }

  #get(member: string): Promise<ResolvedAddresses> {
    let entry = this.#entries.get(member);
    if (!entry) {
      entry = this.#look(member);
      this.#entries.set(member, entry);
    }
    return entry;
  }

  async #look(member: string): Promise<ResolvedAddresses> {
    const host = hostOf(member);
    if (host === null) return { addresses: null, error: 'not a host' };
    if (isIP(host)) return { addresses: [host], error: null };
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      });
      return { addresses: await Promise.race([this.#lookup(host), timeout]), error: null };
    } catch (err) {
      return { addresses: null, error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}
