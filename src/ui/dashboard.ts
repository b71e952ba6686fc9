import type { ChalkInstance } from 'chalk';
import type { ServiceSummary } from '../deploy/controller.js';
import type { AppSummary } from '../forward/commands.js';
import type { StatsSnapshot } from '../stats/registry.js';
import type { ProxyInfo } from '../upstream/commands.js';
import { stateColour } from './colour.js';
import { formatBytes, formatRate } from './format.js';
import { renderTable } from './table.js';

/**
 * One frame of `proxyctl dashboard`: a pure function of the data read from
 * the agent and the view state (selection, last message, a question,
 * terminal size), so it is unit-tested without a terminal. The command owns
 * the terminal and the keys; DashboardFeed keeps the data current.
 */

export interface ShardRow {
  service: string;
  shard: string;
  total: number;
  rate_1s: number;
}

export interface DownloadRow {
  id: number;
  state: string;
  url: string;
  bytes: number;
  total: number | null;
  speed_bps: number;
}

export interface DashboardData {
  services: ServiceSummary[];
  shards: ShardRow[];
  apps: AppSummary[];
  proxy: ProxyInfo | null;
  /** Jobs not done or cancelled (the queue), newest last. */
  downloads?: DownloadRow[];
  /** The last events, one line each (describeEvent), oldest first. */
  events?: string[];
  /** When the data was read. */
  at: Date;
}

export interface DashboardView {
  /** Index into services of the selected row. */
  selected: number;
  /** Last action result or error, shown at the bottom. */
  message: string | null;
  /** The agent could not be reached at the last poll (the data shown is older). */
  error: string | null;
  /** A yes/no question waiting for its key (`d`: deploy notes v3 -> v4?). */
  question?: string | null;
  width: number;
  height: number;
  chalk: ChalkInstance;
}

/** services.<name>.shards.<shard>.{total, rate_1s} out of `agent.stats`. */
export function shardRows(stats: StatsSnapshot): ShardRow[] {
  const rows: ShardRow[] = [];
  const services = stats.services;
  if (!isObject(services)) return rows;
  for (const [service, s] of Object.entries(services)) {
    if (!isObject(s) || !isObject(s.shards)) continue;
    for (const [shard, v] of Object.entries(s.shards)) {
      if (!isObject(v)) continue;
      rows.push({ service, shard, total: num(v.total), rate_1s: num(v.rate_1s) });
    }
  }
  return rows.sort((a, b) => a.service.localeCompare(b.service) || a.shard.localeCompare(b.shard, 'en', { numeric: true }));
}

function isObject(v: unknown): v is StatsSnapshot {
  return v !== null && typeof v === 'object';
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function since(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
}

function version(i: ServiceSummary['current'], now: Date): string {
  if (!i) return '-';
  const exit = i.exit ? ` exited ${i.exit.signal ?? `code ${i.exit.code}`}` : '';
  return `v${i.version} (${i.launched_at.slice(11, 19)}, ${since(i.launched_at, now)})${exit}`;
}

/** The frame as lines, at most `height` of them, each at most `width` visible columns. */
export function renderDashboard(data: DashboardData, view: DashboardView): string[] {
  const c = view.chalk;
  const now = data.at;
  const lines: string[] = [];
  const section = (title: string) => lines.push('', c.bold(title));
  lines.push(`${c.bold('proxyctl dashboard')}  ${now.toISOString().slice(11, 19)}  ${c.dim('up/down select  d deploy  r restart  q quit')}`);

  section('SERVICES');
  if (data.services.length === 0) lines.push('  no services configured');
  else {
    const table = renderTable(
      ['', 'SERVICE', 'STATE', 'HEALTH', 'CURRENT', 'PREVIOUS', 'READY', 'RESTARTS', 'REQ/S', 'LAST OPERATION'],
      data.services.map((s, i) => [
        i === view.selected ? '>' : ' ',
        s.name,
        stateColour(c, s.state),
        stateColour(c, s.health),
        version(s.current, now),
        version(s.previous, now),
        s.scale === undefined ? '-' : `${s.ready}/${s.scale}`,
        s.restarts ?? 0,
        round(s.req_rate),
        s.last_deploy ? `${s.last_deploy.id} ${s.last_deploy.kind ?? 'deploy'} v${s.last_deploy.version} ${s.last_deploy.result}` : '-',
      ]),
    ).split('\n');
    lines.push(table[0]!, ...table.slice(1).map((l, i) => (i === view.selected ? c.inverse(l) : l)));
  }

  section('SHARDS');
  if (data.shards.length === 0) lines.push('  no shard stats yet');
  else lines.push(...renderTable(['SERVICE', 'SHARD', 'TOTAL', 'REQ/S'], data.shards.map((s) => [s.service, s.shard, s.total, round(s.rate_1s)])).split('\n'));

  section('APPS');
  if (data.apps.length === 0) lines.push('  no apps configured');
  else
    lines.push(
      ...renderTable(
        ['APP', 'PORTS', 'TARGETS UP', 'CONNS', 'TOTAL', 'REQ/S'],
        data.apps.map((a) => [a.name, a.ports.join(','), `${a.targets_up}/${a.targets_total}`, a.active, a.total, a.request_rate_1s === null ? '-' : round(a.request_rate_1s)]),
      ).split('\n'),
    );

  section('UPSTREAM PROXIES');
  if (!data.proxy) lines.push('  -');
  else {
    const p = data.proxy;
    lines.push(`  active group ${p.active_group}: ${p.active_proxy}   policy ${p.policy}   revision ${p.revision}`);
    for (const g of p.groups) {
      const members = g.proxies.map((m) => (m.address === 'DIRECT' ? 'DIRECT' : `${m.address} ${stateColour(c, m.healthy ? 'healthy' : 'unhealthy')}`)).join(', ');
      lines.push(`  ${g.index === p.active_group ? '*' : ' '}[${g.index}]${g.fallback ? ' fallback' : ''} ${members}`);
    }
  }

  if (data.downloads) {
    section('DOWNLOADS');
    if (data.downloads.length === 0) lines.push('  no downloads queued');
    else
      lines.push(
        ...renderTable(
          ['ID', 'STATE', 'PROGRESS', 'SPEED', 'URL'],
          data.downloads.map((d) => [d.id, stateColour(c, d.state), `${formatBytes(d.bytes)}${d.total === null ? '' : ` / ${formatBytes(d.total)} (${d.total > 0 ? Math.floor((100 * d.bytes) / d.total) : 100}%)`}`, d.state === 'active' ? formatRate(d.speed_bps) : '-', d.url]),
        ).split('\n'),
      );
  }

  const footer = view.error ? c.red(`agent unreachable: ${view.error}`) : view.question ? c.bold(view.question) : view.message ? view.message : '';
  const room = Math.max(1, view.height - 2);
  const body = lines.slice(0, room);
  // The events pane takes what is left of the screen: the newest events that fit.
  const left = room - body.length - 2;
  if (data.events && left > 0) {
    body.push('', c.bold('EVENTS'));
    const shown = data.events.slice(-left);
    body.push(...(shown.length === 0 ? ['  none yet'] : shown.map((e) => `  ${e}`)));
  }
  body.push('', footer);
  return body.map((l) => truncate(l, view.width));
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/y;

/** Cuts a line to `width` visible columns, keeping colour escapes intact (and closing them). */
export function truncate(line: string, width: number): string {
  let visible = 0;
  let out = '';
  let i = 0;
  let cut = false;
  while (i < line.length) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(line);
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (visible >= width) {
      cut = true;
      i++;
      continue;
    }
    out += line[i];
    visible++;
    i++;
  }
  return cut && out.includes('\u001b[') ? out + '\u001b[0m' : out;
}
