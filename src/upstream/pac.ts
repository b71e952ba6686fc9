import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createPacResolver } from 'pac-resolver';
import { QuickJS } from 'quickjs-wasi';
import { ProxyctlError } from '../errors.js';
import { undici } from '../net/undici.js';
import { describeError } from './classify.js';
import { DIRECT, parseMember, type GroupSpec } from '../config/proxy-spec.js';

/**
 * Proxy auto-discovery, as cvmfs's `auto` (CVMFS_PAC_URLS): fetch the first PAC
 * file of `urls` that answers, ask its FindProxyForURL about one URL, and turn
 * the answer ("PROXY a:3128; PROXY b:3128; DIRECT") into failover groups, one
 * per entry in the PAC's order, as cvmfs does.
 *
 * A PAC file is code from the network: it runs in QuickJS compiled to
 * WebAssembly (pac-resolver on quickjs-wasi, what proxy-agent's pac-proxy-agent
 * uses), never in node's `vm` or `eval`, with a fresh runtime per evaluation, a
 * memory limit and a deadline that interrupts a looping script.
 */

export interface PacOptions {
  /** PAC URLs, tried in order (proxy.pac_urls). */
  readonly urls: readonly string[];
  /** The URL FindProxyForURL is asked about. */
  readonly queryUrl: string;
  /** Fetch timeout per PAC URL and evaluation deadline, ms. */
  readonly timeoutMs: number;
}

/** What one successful resolution came to. */
export interface PacResolution {
  /** The PAC URL that answered. */
  readonly source: string;
  /** FindProxyForURL's answer, as the script returned it. */
  readonly result: string;
  readonly groups: GroupSpec[];
  /** Entries of the answer that proxyctl cannot use (SOCKS, malformed), with why. */
  readonly skipped: string[];
}

/** A PAC file is a small script; more is not a PAC file. */
const MAX_PAC_BYTES = 1 << 20;
const MEMORY_LIMIT = 32 << 20;

/** QuickJS's compiled module, made once per process (each evaluation still gets a fresh instance). */
type WasmModule = Extract<Parameters<typeof QuickJS.create>[0], { wasm: unknown }>['wasm'];
let wasmModule: WasmModule | undefined;
function quickjsWasm(): WasmModule {
  // The project's lib settings carry no WebAssembly types; node has the global.
  const { WebAssembly } = globalThis as unknown as { WebAssembly: { Module: new (bytes: Buffer) => WasmModule } };
  wasmModule ??= new WebAssembly.Module(readFileSync(createRequire(import.meta.url).resolve('quickjs-wasi/quickjs.wasm')));
  return wasmModule;
}

/** Fetches one PAC file without any proxy (a PAC names the proxies; it cannot need one). */
export async function fetchPac(url: string, timeoutMs: number): Promise<string> {
  const res = await undici().request(url, { signal: AbortSignal.timeout(timeoutMs), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`HTTP ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += (chunk as Buffer).length;
    if (size > MAX_PAC_BYTES) {
      res.body.destroy();
      throw new Error(`larger than ${MAX_PAC_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs FindProxyForURL(queryUrl, host) of `code` in a fresh QuickJS runtime. */
export async function evaluatePac(code: string, queryUrl: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const qjs = await QuickJS.create({ wasm: quickjsWasm(), memoryLimit: MEMORY_LIMIT, interruptHandler: () => Date.now() > deadline });
  try {
    const find = createPacResolver(qjs, code, { filename: 'proxy.pac', sandbox: { alert: () => undefined } });
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`FindProxyForURL did not answer within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now())).unref());
    const result: unknown = await Promise.race([find(queryUrl), timer]);
    if (typeof result !== 'string') throw new Error(`FindProxyForURL returned ${result === null ? 'null' : typeof result}, not a string`);
    return result;
  } catch (err) {
    const message = (err as Error).message === 'interrupted' ? `FindProxyForURL did not answer within ${timeoutMs} ms` : (err as Error).message;
    throw new Error(message, { cause: err });
  } finally {
    qjs.dispose();
  }
}

/**
 * FindProxyForURL's answer as failover groups: `PROXY h:p` and `HTTP h:p` →
 * http://h:p, `HTTPS h:p` → https://h:p, `DIRECT` → DIRECT (once). SOCKS and
 * anything malformed are skipped and reported.
 */
export function pacResultToGroups(result: string): { groups: GroupSpec[]; skipped: string[] } {
  const groups: GroupSpec[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  for (const raw of result.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [kind = '', target, ...extra] = entry.split(/\s+/);
    let member: string;
    try {
      const k = kind.toUpperCase();
      if (k === 'DIRECT' && target === undefined) member = DIRECT;
      else if ((k === 'PROXY' || k === 'HTTP' || k === 'HTTPS') && target !== undefined && extra.length === 0) member = parseMember(`${k === 'HTTPS' ? 'https' : 'http'}://${target}`, 'PAC');
      else if (k.startsWith('SOCKS')) throw new Error('SOCKS proxies are not supported');
      else throw new Error('not PROXY, HTTP, HTTPS or DIRECT');
    } catch (err) {
      skipped.push(`"${entry}": ${(err as Error).message.replace(/^PAC: /, '')}`);
      continue;
    }
    if (seen.has(member)) continue;
    seen.add(member);
    groups.push([member]);
  }
  return { groups, skipped };
}

export type PacFetch = (url: string, timeoutMs: number) => Promise<string>;

/**
 * Tries each PAC URL in order; the first that can be fetched, evaluated and
 * gives at least one usable entry wins. When none does, throws PXC_ERR_PAC
 * naming every URL and what went wrong with it.
 */
export async function resolvePac(opts: PacOptions, fetch: PacFetch = fetchPac): Promise<PacResolution> {
  if (opts.urls.length === 0) throw new ProxyctlError('PXC_ERR_PAC', 'auto: proxy.pac_urls is empty, so there is no PAC file to ask');
  const problems: string[] = [];
  for (const url of opts.urls) {
    let code: string;
    try {
      code = await fetch(url, opts.timeoutMs);
    } catch (err) {
      problems.push(`${url}: cannot fetch: ${describeError(err)}`);
      continue;
    }
    let result: string;
    try {
      result = await evaluatePac(code, opts.queryUrl, opts.timeoutMs);
    } catch (err) {
      problems.push(`${url}: cannot evaluate: ${(err as Error).message}`);
      continue;
    }
    const { groups, skipped } = pacResultToGroups(result);
    if (groups.length === 0) {
      problems.push(`${url}: FindProxyForURL("${opts.queryUrl}") = "${result}" has no usable proxy${skipped.length ? ` (${skipped.join('; ')})` : ''}`);
      continue;
    }
    return { source: url, result, groups, skipped };
  }
  throw new ProxyctlError('PXC_ERR_PAC', `auto: no PAC file answered: ${problems.join('; ')}`);
}
