import type { ProxyInfo, ProxyInfoMember, TimeoutInfo } from './commands.js';

/**
 * The text of `proxy info` and `timeout info`: the talk reply, and the CLI's
 * output (with colour). Pure functions over the replies' types, so the CLI
 * can use them without loading any agent code.
 */

/** A member as `proxy info` writes it: `http://a:3128 (healthy, 10.0.0.1 10.0.0.2)`. */
export function describeMember(p: ProxyInfoMember, paint: (state: string) => string = (x) => x): string {
  if (p.address === 'DIRECT') return 'DIRECT';
  const where = p.addresses ? p.addresses.join(' ') : p.address_error ? `unresolved: ${p.address_error}` : null;
  return `${p.address} (${paint(p.state)}${where ? `, ${where}` : ''})`;
}

/** cvmfs_talk's layout of `proxy info`, plus the reset_after countdown and the PAC source. */
export function proxyInfoLines(info: ProxyInfo, paint?: (state: string) => string, bold: (s: string) => string = (x) => x): string[] {
  const lines = ['Load-balance groups:'];
  for (const g of info.groups) lines.push(`[${g.index}] ${g.proxies.map((p) => describeMember(p, paint)).join(', ')}${g.pac ? '  (auto)' : ''}`);
  lines.push(`Active proxy: [${info.active_group}] ${bold(info.active_proxy)}`);
  if (info.reset_in_s !== null) lines.push(`Back to group 0 in: ${info.reset_in_s} s (reset_after, if group 0 answers then)`);
  if (info.first_fallback_group !== null) lines.push(`First fallback group: [${info.first_fallback_group}]`);
  if (info.pac) {
    const p = info.pac;
    if (p.source !== null) lines.push(`Auto proxies: ${p.resolved} from ${p.source} (FindProxyForURL("${p.query_url}") = "${p.result}", at ${p.resolved_at}; refreshed every ${p.refresh_s} s)`);
    else lines.push(`Auto proxies: none yet (PAC files: ${p.urls.join(', ')})`);
    if (p.skipped.length > 0) lines.push(`Auto skipped: ${p.skipped.join('; ')}`);
    if (p.error !== null) lines.push(`Auto error: ${p.error}`);
  }
  lines.push(`Revision: ${info.revision}`, `Policy: ${info.policy}`);
  return lines;
}

/** cvmfs_talk's `timeout info`. */
export function renderTimeoutInfo(t: TimeoutInfo): string {
  const from = (s: string) => (s === 'run-time' ? ' (timeout set)' : '');
  return `Timeout with proxy: ${t.proxy_s} s${from(t.source.proxy)}\nTimeout without proxy: ${t.direct_s} s${from(t.source.direct)}`;
}

