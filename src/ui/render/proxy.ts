import type { HealthRow, ProxyInfo } from '../../upstream/commands.js';
import { renderTable } from '../table.js';
import type { Paint } from './app.js';

/**
 * The proxy topic's text, shared by talk replies and the CLI. `paint`
 * colours a state word and `strong` the member in use (the CLI passes chalk
 * on a TTY; talk leaves them plain).
 */
const plain: Paint = (s) => s;

/** cvmfs_talk's layout of `proxy info`: one line per load-balance group, then the member in use. */
export function renderProxyInfo(info: ProxyInfo, paint: Paint = plain, strong: Paint = plain): string {
  const lines = ['Load-balance groups:'];
  for (const g of info.groups) lines.push(`[${g.index}] ${g.proxies.map((p) => (p.address === 'DIRECT' ? 'DIRECT' : `${p.address} (${paint(p.healthy ? 'healthy' : 'unhealthy')})`)).join(', ')}`);
  lines.push(`Active proxy: [${info.active_group}] ${strong(info.active_proxy)}`);
  if (info.first_fallback_group !== null) lines.push(`First fallback group: [${info.first_fallback_group}]`);
  lines.push(`Revision: ${info.revision}`, `Policy: ${info.policy}`);
  return lines.join('\n');
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
