import { ProxyctlError } from '../errors.js';

/**
 * The proxy string, as CernVM-FS's CVMFS_HTTP_PROXY:
 *
 *   http://a:3128|http://b:3128;http://c:3128;DIRECT
 *
 * `;` separates failover groups (tried in order), `|` separates load-balanced
 * members of a group, `DIRECT` means no proxy, a missing scheme means http://.
 * Spaces around separators are tolerated: `a:3128; b:3128` is two groups, not
 * the silent DIRECT that cvmfs made of it. Anything else malformed is refused
 * with PXC_ERR_BAD_PROXY_SPEC naming the bad token.
 */

/** A member's canonical form: `http://host:port`, `https://host:port`, or DIRECT. */
export type MemberAddress = string;
export const DIRECT = 'DIRECT';

/** One group: member addresses in the order written. */
export type GroupSpec = readonly MemberAddress[];

export interface ParsedProxyList {
  /** The groups of `http_proxy`, then the fallback groups (DIRECT stripped when there are fallbacks). */
  readonly groups: readonly GroupSpec[];
  /** Index of the first fallback group, or null when there are none. */
  readonly fallbackStart: number | null;
}

const SCHEMES = new Set(['http', 'https']);

function bad(message: string): never {
  throw new ProxyctlError('PXC_ERR_BAD_PROXY_SPEC', message);
}

/** One member: `DIRECT`, `host:port`, `http://host:port`, `https://[::1]:port` (a trailing `/` is tolerated). */
export function parseMember(token: string, where: string): MemberAddress {
  const t = token.trim();
  if (t === DIRECT) return DIRECT;
  if (t.toUpperCase() === DIRECT) bad(`${where}: write DIRECT in capitals (got "${t}")`);
  if (/\s/.test(t)) bad(`${where}: "${t}" contains a space (separate members with "|" and groups with ";")`);
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(t);
  const scheme = schemeMatch ? schemeMatch[1]!.toLowerCase() : 'http';
  if (!SCHEMES.has(scheme)) bad(`${where}: unknown scheme "${schemeMatch![1]}" in "${t}" (use http:// or https://)`);
  const rest = (schemeMatch ? t.slice(schemeMatch[0].length) : t).replace(/\/$/, '');
  if (rest.includes('@')) bad(`${where}: credentials in "${t}" are not supported`);
  if (rest.includes('/')) bad(`${where}: "${t}" has a path; a proxy is scheme://host:port`);
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(.*))?$/.exec(rest);
  if (!m) bad(`${where}: bad host in "${t}"`);
  const host = m[1] !== undefined ? `[${m[1].toLowerCase()}]` : m[2]!.toLowerCase();
  if (m[3] === undefined) bad(`${where}: missing port in "${t}" (e.g. ${scheme}://${host}:3128)`);
  if (!/^\d{1,5}$/.test(m[3])) bad(`${where}: bad port "${m[3]}" in "${t}"`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) bad(`${where}: port ${port} out of range (1-65535) in "${t}"`);
  return `${scheme}://${host}:${port}`;
}

/**
 * Parses one proxy string into groups. An empty (or all-space) string is an
 * empty list; `what` names the setting in error messages.
 */
export function parseProxySpec(spec: string, what = 'proxy string'): GroupSpec[] {
  if (spec.trim() === '') return [];
  const groups = spec.split(';');
  return groups.map((group, gi) => {
    if (group.trim() === '') bad(`${what}: empty group ${gi} in "${spec}"${gi === groups.length - 1 ? ' (trailing ";")' : ''}`);
    const members = group.split('|');
    return members.map((member, mi) => {
      if (member.trim() === '') bad(`${what}: empty member ${mi} in group ${gi} ("${group.trim()}")`);
      return parseMember(member, `${what}, group ${gi}`);
    });
  });
}

/**
 * The list the agent runs: `http_proxy`'s groups then `fallback_proxy`'s. As in
 * cvmfs, when there are fallback proxies DIRECT is stripped from both lists
 * (a group left empty disappears). No groups at all means DIRECT.
 */
export function buildProxyList(httpProxy: string, fallbackProxy: string): ParsedProxyList {
  let main = parseProxySpec(httpProxy, 'http_proxy');
  let fallback = parseProxySpec(fallbackProxy, 'fallback_proxy');
  if (fallback.length > 0) {
    const strip = (groups: GroupSpec[]) => groups.map((g) => g.filter((m) => m !== DIRECT)).filter((g) => g.length > 0);
    main = strip(main);
    fallback = strip(fallback);
  }
  if (main.length === 0 && fallback.length === 0) return { groups: [[DIRECT]], fallbackStart: null };
  return { groups: [...main, ...fallback], fallbackStart: fallback.length > 0 ? main.length : null };
}

/** Groups back to a proxy string (canonical form). */
export function formatProxySpec(groups: readonly GroupSpec[]): string {
  return groups.map((g) => g.join('|')).join(';');
}
