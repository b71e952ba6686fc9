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
 *
 * DIRECT is a group of its own, written once: `a:3128|DIRECT` would make "no
 * proxy" a load-balanced peer of a proxy (half the requests bypass it), and a
 * second DIRECT group can never be reached with anything new to try. `auto`
 * (cvmfs's proxy auto-discovery) is a group of its own too, written once, in
 * http_proxy only: it stands for the groups the PAC files resolve to (pac.ts).
 */

/** A member's canonical form: `http://host:port`, `https://host:port`, or DIRECT. */
export type MemberAddress = string;
export const DIRECT = 'DIRECT';
/** The placeholder for the groups discovered from the PAC files (`proxy.pac_urls`). */
export const AUTO = 'auto';

/** One group: member addresses in the order written. */
export type GroupSpec = readonly MemberAddress[];

export interface ParsedProxyList {
  /** The groups of `http_proxy`, then the fallback groups (DIRECT stripped when there are fallbacks). */
  readonly groups: readonly GroupSpec[];
  /** Index of the first fallback group, or null when there are none. */
  readonly fallbackStart: number | null;
  /** Where `auto`'s groups (from the PAC files) sit in `groups`, or null when http_proxy has no `auto`. */
  readonly pac?: { readonly start: number; readonly count: number } | null;
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
 * empty list; `what` names the setting in error messages. `auto` is accepted
 * (as a group of its own) only where `allowAuto` says so.
 */
export function parseProxySpec(spec: string, what = 'proxy string', allowAuto = false): GroupSpec[] {
  if (spec.trim() === '') return [];
  const groups = spec.split(';');
  const seen = new Map<string, number>();
  return groups.map((group, gi) => {
    if (group.trim() === '') bad(`${what}: empty group ${gi} in "${spec}"${gi === groups.length - 1 ? ' (trailing ";")' : ''}`);
    const members = group.split('|');
    const parsed = members.map((member, mi) => {
      if (member.trim() === '') bad(`${what}: empty member ${mi} in group ${gi} ("${group.trim()}")`);
      if (member.trim() === AUTO) {
        if (!allowAuto) bad(`${what}, group ${gi}: "auto" (proxies from the PAC files) is allowed in http_proxy only`);
        return AUTO;
      }
      return parseMember(member, `${what}, group ${gi}`);
    });
    for (const solo of [DIRECT, AUTO]) {
      if (parsed.length > 1 && parsed.includes(solo)) {
        bad(`${what}: ${solo} is a group of its own, not a member of group ${gi} ("${group.trim()}"); separate it with ";", e.g. "${members.filter((m) => m.trim() !== solo).map((m) => m.trim()).join('|')};${solo}"`);
      }
      if (parsed[0] === solo) {
        const first = seen.get(solo);
        if (first !== undefined) bad(`${what}: ${solo} appears twice in "${spec.trim()}" (groups ${first} and ${gi}); write it once`);
        seen.set(solo, gi);
      }
    }
    return parsed;
  });
}

/**
 * The list the agent runs: `http_proxy`'s groups then `fallback_proxy`'s. As in
 * cvmfs, when there are fallback proxies DIRECT is stripped from both lists
 * (a group left empty disappears). No groups at all means DIRECT.
 *
 * An `auto` group is replaced by `pac`, the groups the PAC files resolved to
 * (none while they have not been resolved, or never could be): `auto;DIRECT`
 * runs DIRECT until a PAC answers, and a lone `auto` that resolves to nothing
 * is DIRECT as in cvmfs. A DIRECT the PAC repeats is dropped (the first stays).
 */
export function buildProxyList(httpProxy: string, fallbackProxy: string, pac: readonly GroupSpec[] | null = null): ParsedProxyList {
  const written = parseProxySpec(httpProxy, 'http_proxy', true);
  const writtenDirect = written.some((g) => g[0] === DIRECT);
  // Tagged so the PAC's groups can be found again after DIRECT is stripped.
  let main: Array<{ members: GroupSpec; pac: boolean }> = [];
  let direct = false;
  for (const g of written) {
    if (g[0] !== AUTO) {
      main.push({ members: g, pac: false });
      continue;
    }
    for (const pg of pac ?? []) {
      if (pg.includes(DIRECT)) {
        if (direct || writtenDirect) continue;
        direct = true;
      }
      main.push({ members: pg, pac: true });
    }
  }
  let fallback = parseProxySpec(fallbackProxy, 'fallback_proxy');
  if (fallback.length > 0) {
    const strip = (g: GroupSpec) => g.filter((m) => m !== DIRECT);
    main = main.map((e) => ({ ...e, members: strip(e.members) })).filter((e) => e.members.length > 0);
    fallback = fallback.map(strip).filter((g) => g.length > 0);
  }
  const hasAuto = written.some((g) => g[0] === AUTO);
  const start = main.findIndex((e) => e.pac);
  const pacAt = hasAuto ? { start: start < 0 ? 0 : start, count: main.filter((e) => e.pac).length } : null;
  if (main.length === 0 && fallback.length === 0) return { groups: [[DIRECT]], fallbackStart: null, pac: pacAt };
  return { groups: [...main.map((e) => e.members), ...fallback], fallbackStart: fallback.length > 0 ? main.length : null, pac: pacAt };
}

/** Groups back to a proxy string (canonical form). */
export function formatProxySpec(groups: readonly GroupSpec[]): string {
  return groups.map((g) => g.join('|')).join(';');
}
