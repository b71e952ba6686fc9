import type { AppInfo } from '../../forward/app.js';
import type { AppReset, AppSessions, AppSummary } from '../../forward/commands.js';
import type { StatRow } from '../../forward/stat-rows.js';
import { formatBytes, formatDuration } from '../format.js';
import { renderKeyValues, renderTable } from '../table.js';

/**
 * The app topic's text, shared by talk replies and the CLI so both lay out
 * the same thing once. `paint` colours a state word (the CLI passes chalk on
 * a TTY; talk leaves words plain).
 */
export type Paint = (state: string) => string;
const plain: Paint = (s) => s;

/** `1/3`, or `1/3 (2 unknown)` while some targets have no check result yet. */
function targetsUp(up: number, total: number, unknown: number): string {
  return `${up}/${total}${unknown > 0 ? ` (${unknown} unknown)` : ''}`;
}

export function renderAppList(apps: readonly AppSummary[]): string {
  if (apps.length === 0) return 'no apps configured';
  return renderTable(
    ['name', 'protocol', 'ports', 'targets up', 'active', 'total', 'req/s'],
    apps.map((a) => [
      a.name,
      a.protocol,
      a.ports_listening === a.ports.length ? a.ports.join(',') : `${a.ports.join(',')} (${a.ports.length - a.ports_listening} not listening)`,
      targetsUp(a.targets_up, a.targets_total, a.targets_unknown),
      a.active,
      a.total,
      a.request_rate_1s ?? '-',
    ]),
  );
}

export function renderAppInfo(a: AppInfo, paint: Paint = plain): string {
  const out = [
    renderKeyValues({
      app: a.name,
      protocol: a.protocol,
      engine: a.engine,
      balance: a.balance,
      bind: a.bind,
      targets: targetsUp(a.targets_up, a.targets.length, a.targets_unknown),
      connections: `${a.active} active, ${a.total} total, ${a.rejected} rejected (${a.rejected_by.max_connections} max_connections, ${a.rejected_by.fd_limit} fd_limit), ${a.no_target} without a target`,
      connect_failures: a.connect_failures,
      bytes: `${formatBytes(a.bytes_in)} in, ${formatBytes(a.bytes_out)} out`,
    }),
    '',
    renderTable(['port', 'bound', 'state', 'error'], a.ports.map((p) => [p.port, p.bound_port ?? '-', paint(p.state), p.error ?? ''])),
    '',
    renderTargets(a.targets, paint),
  ];
  if (a.foo) out.push('', renderKeyValues({ ...a.foo }));
  return out.join('\n');
}

function renderTargets(targets: AppInfo['targets'], paint: Paint): string {
  if (targets.length === 0) return 'no targets';
  return renderTable(
    ['target', 'health', 'state', 'weight', 'source', 'active', 'total', 'in', 'out', 'failures', 'last error'],
    targets.map((t) => [
      t.address,
      paint(t.health),
      paint(t.state),
      t.weight,
      t.source,
      t.active,
      t.total,
      formatBytes(t.bytes_in),
      formatBytes(t.bytes_out),
      `${t.connect_failures} connect, ${t.check_failures} check`,
      t.last_error ?? '',
    ]),
  );
}

/** `app sessions`: one line per open connection, oldest first (HAProxy's `show sess`). */
export function renderSessions(r: AppSessions, paint: Paint = plain): string {
  if (r.sessions.length === 0) return `${r.app}: no open connections`;
  const table = renderTable(
    ['client', 'target', 'state', 'age', 'in', 'out'],
    r.sessions.map((s) => [s.client, s.target || '-', paint(s.state), formatDuration(s.age_ms / 1000), formatBytes(s.bytes_in), formatBytes(s.bytes_out)]),
  );
  return r.active > r.sessions.length ? `${table}\n(${r.sessions.length} of ${r.active} open connections shown)` : table;
}

export function renderAppReset(r: AppReset): string {
  const targets = r.targets.length ? r.targets.map((t) => (t.weight === 1 ? t.address : `${t.address} (weight ${t.weight})`)).join(', ') : 'none';
  return `${r.app}: ${r.dropped ? 'run-time target changes dropped' : 'no run-time target changes'}; targets: ${targets}`;
}

/** `app stats`: the fields an operator reads first, HAProxy's names as headers. */
export function renderStatsTable(rows: readonly StatRow[], paint: Paint = plain): string {
  if (rows.length === 0) return 'no apps configured';
  const n = (v: number | undefined) => (v === undefined ? '' : v);
  return renderTable(
    ['pxname', 'svname', 'status', 'weight', 'scur', 'slim', 'stot', 'bin', 'bout', 'econ', 'chkfail', 'chkdown', 'lastchg', 'check'],
    rows.map((r) => [
      r.pxname,
      r.svname,
      paint(r.status),
      n(r.weight),
      r.scur,
      n(r.slim),
      r.stot,
      formatBytes(r.bin),
      formatBytes(r.bout),
      n(r.econ),
      n(r.chkfail),
      n(r.chkdown),
      r.lastchg === undefined ? '' : formatDuration(r.lastchg),
      r.check_status ? `${r.check_status}${r.check_duration === undefined ? '' : ` in ${r.check_duration}ms`}` : '',
    ]),
  );
}
