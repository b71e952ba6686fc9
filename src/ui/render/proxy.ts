import type { HealthRow, ProxyInfo, ProxyInfoMember, TimeoutInfo } from '../../upstream/commands.js';
import { renderTable } from '../table.js';
import type { Paint } from './app.js';

/**
 * The proxy topic's text, shared by talk replies and the CLI. `paint`
 * colours a state word and `strong` the member in use (the CLI passes chalk
 * on a TTY; talk leaves them plain).
 */
const plain: Paint = (s) => s;

/** A member as `proxy info` writes it: `http://a:3128 (healthy, 10.0.0.1 10.0.0.2)`. */
export function describeMember(p: ProxyInfoMember, paint: Paint = plain): string {
  if (p.address === 'DIRECT') return 'DIRECT';
  const where = p.addresses ? p.addresses.join(' ') : p.address_error ? `unresolved: ${p.address_error}` : null;
  return `${p.address} (${paint(p.state)}${where ? `, ${where}` : ''})`;
}

/** cvmfs_talk's layout of `proxy info`, plus the reset_after countdown and the PAC source. */
function proxyInfoLines(info: ProxyInfo, paint: Paint, bold: Paint): string[] {
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

/** cvmfs_talk's layout of `proxy info`, plus the reset_after countdown and the PAC source. */
export function renderProxyInfo(info: ProxyInfo, paint: Paint = plain, strong: Paint = plain): string {
  return proxyInfoLines(info, paint, strong).join('\n');
}

/** cvmfs_talk's `timeout info`. */
export function renderTimeoutInfo(t: TimeoutInfo): string {
  const from = (s: string) => (s === 'run-time' ? ' (timeout set)' : '');
  return `Timeout with proxy: ${t.proxy_s} s${from(t.source.proxy)}\nTimeout without proxy: ${t.direct_s} s${from(t.source.direct)}`;
}


/** `proxy health`: a row per member; the active group marked with `*`. */
export function renderHealth(rows: readonly HealthRow[], paint: Paint = plain, now = Date.now()): string {
  return renderTable(
    ['PROXY', 'GROUP', 'STATE', 'LAST CHECK', 'LATENCY MS', 'FAILURES', 'SLOW'],
    rows.map((r) => [
      r.proxy,
      r.active ? `${r.group}*` : String(r.group),
      paint(r.state),
      r.last_check === null ? '-' : `${Math.max(0, Math.round((now - Date.parse(r.last_check)) / 1000))}s ago`,
      r.latency_ms ?? '-',
      r.failures,
      r.slow,
    ]),
  );
}
