import type { FleetStatus } from './commands.js';
import type { FleetChange } from './documents.js';
import type { FleetEvent } from './event-log.js';
import type { RolloutRecord } from './rollout.js';

/** Plain-text renderings shared by talk and the CLI (no colour: talk has none). */

/** `3s ago`, `2m ago`, `1h ago`. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function columns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function renderFleetStatus(s: FleetStatus): string {
  const lines: string[] = [];
  const here = `node ${s.node}, fleet ${s.prefix} on ${s.endpoints.join(',')}`;
  if (s.connected) lines.push(`${here}: connected; config revision ${s.revision} (this node runs ${s.applied_revision})`);
  else lines.push(`${here}: disconnected since ${s.disconnected_since} (${s.last_error ?? 'etcd unreachable'}); serving config revision ${s.applied_revision}`);
  if (s.stale) lines.push('nodes as last read from etcd:');
  const rows = s.nodes.map((n) => [
    n.self ? `${n.node}*` : n.node,
    n.version,
    n.engine,
    String(n.config_revision),
    `${n.apps_up.length}/${n.apps_up.length + n.apps_down.length}`,
    n.services.map((x) => `${x.name}@${x.version === null ? '-' : `v${x.version}`}${x.state === 'READY' || x.state === 'INITIAL' ? '' : `(${x.state})`}`).join(',') || '-',
    ago(n.heartbeat_at),
    n.error ?? '-',
  ]);
  lines.push(rows.length ? columns(['NODE', 'VERSION', 'ENGINE', 'REVISION', 'APPS UP', 'SERVICES', 'HEARTBEAT', 'ERROR'], rows) : '(no node registered)');
  for (const r of s.rollouts) lines.push(renderRolloutLine(r));
  return lines.join('\n');
}

function renderRolloutLine(r: RolloutRecord): string {
  const done = r.nodes.filter((n) => n.state === 'succeeded').length;
  return `fleet deploy ${r.service} ${r.id}: ${r.state} (${done}/${r.nodes.length} nodes, coordinator ${r.coordinator}, started ${r.started_at})${r.error ? `: ${r.error}` : ''}`;
}

export function renderRollout(r: RolloutRecord): string {
  const rows = r.nodes.map((n) => [n.node, n.state, n.from_version === null ? '-' : `v${n.from_version}`, n.version === null ? '-' : `v${n.version}`, n.error ?? '-']);
  return `${renderRolloutLine(r)}\n${columns(['NODE', 'STATE', 'FROM', 'TO', 'ERROR'], rows)}`;
}

export function renderEvent(e: FleetEvent): string {
  return `${e.at}  ${e.kind.padEnd(10)} ${e.message}`;
}

/** One line per change: `+ apps[web]: {…}`, `- services[old]`, `~ proxy.http_proxy: "DIRECT" -> "http://a:3128"`. */
export function renderChanges(changes: readonly FleetChange[]): string {
  if (changes.length === 0) return 'no changes';
  return changes
    .map((c) => (c.op === 'add' ? `+ ${c.path}: ${JSON.stringify(c.to)}` : c.op === 'remove' ? `- ${c.path}` : `~ ${c.path}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`))
    .join('\n');
}
