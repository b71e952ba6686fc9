import type { App } from './app.js';
import { APP } from './engine/types.js';
import type { Target } from './target.js';

/**
 * `app stats`: one app as HAProxy's `show stat` lays out a proxy — a
 * FRONTEND row (the listeners), one row per server (target), a BACKEND row —
 * with HAProxy's field names, so tools that read HAProxy's CSV read ours
 * (src/ui/render/app.ts writes it in HAProxy 2.6's column order, leaving
 * empty what proxyctl does not have: queues, HTTP, maxima, SSL, …).
 *
 * Where a field needs a choice: svname of a target is its address (it has
 * no other name); status follows HAProxy's words (UP, DOWN, MAINT for
 * disabled, DRAIN for draining or weight 0, "UP 2/3" / "DOWN 1/2" while
 * checks move it toward the other state) and a target without a check result
 * yet is "UP 1/fall" with check_status INI, as HAProxy shows a server it has
 * not checked (one failed check takes it down); dcon counts the clients
 * refused over max_connections or for want of a file descriptor.
 */
export interface StatRow {
  pxname: string;
  svname: string;
  /** 0 frontend, 1 backend, 2 server. */
  type: 0 | 1 | 2;
  status: string;
  scur: number;
  slim?: number;
  stot: number;
  bin: number;
  bout: number;
  econ?: number;
  weight?: number;
  act?: number;
  bck?: number;
  chkfail?: number;
  chkdown?: number;
  /** Seconds since the last change of health or admin state. */
  lastchg?: number;
  /** Seconds spent down. */
  downtime?: number;
  pid: number;
  iid: number;
  sid: number;
  lbtot?: number;
  /** New sessions over the last second. */
  rate?: number;
  check_status?: string;
  check_duration?: number;
  last_chk?: string;
  check_desc?: string;
  check_rise?: number;
  check_fall?: number;
  check_health?: number;
  addr?: string;
  mode: 'tcp';
  algo?: string;
  conn_rate?: number;
  conn_tot?: number;
  dcon?: number;
  /** Connection attempts to servers (relayed + failed). */
  connect?: number;
  uweight?: number;
}

const ALGO = { 'round-robin': 'roundrobin', random: 'random', 'least-conn': 'leastconn', sharding: 'source' } as const;

export function statRows(app: App, iid: number, now = Date.now()): StatRow[] {
  const info = app.info();
  const c = app.counters;
  const { rise, fall } = app.config.health;
  const rate = app.connectionRate1s();
  const frontend: StatRow = {
    pxname: app.name,
    svname: 'FRONTEND',
    type: 0,
    status: info.ports.some((p) => p.state === 'listening') ? 'OPEN' : 'STOP',
    scur: info.active,
    slim: app.config.max_connections,
    stot: info.accepted,
    bin: info.bytes_in,
    bout: info.bytes_out,
    pid: 1,
    iid,
    sid: 0,
    rate,
    mode: 'tcp',
    conn_rate: rate,
    conn_tot: info.accepted,
    dcon: info.rejected,
  };
  const servers = app.targetList.map((t, i): StatRow => serverRow(app.name, iid, i + 1, t, rise, fall, now));
  const serving = app.targetList.filter((t) => t.usable);
  const backend: StatRow = {
    pxname: app.name,
    svname: 'BACKEND',
    type: 1,
    status: serving.length > 0 ? 'UP' : 'DOWN',
    scur: servers.reduce((n, r) => n + r.scur, 0),
    stot: info.total,
    bin: info.bytes_in,
    bout: info.bytes_out,
    econ: info.connect_failures,
    weight: serving.reduce((n, t) => n + t.weight, 0),
    act: serving.length,
    bck: 0,
    pid: 1,
    iid,
    sid: 0,
    lbtot: info.total,
    mode: 'tcp',
    algo: ALGO[app.config.balance],
    connect: info.total + c.get(APP.connect_failures),
  };
  return [frontend, ...servers, backend];
}

function serverRow(pxname: string, iid: number, sid: number, t: Target, rise: number, fall: number, now: number): StatRow {
  const i = t.info();
  const check = t.lastCheck;
  const unknown = t.health === 'unknown' && t.state !== 'disabled';
  return {
    pxname,
    svname: t.address,
    type: 2,
    status: serverStatus(t, rise, fall),
    scur: i.active,
    stot: i.total,
    bin: i.bytes_in,
    bout: i.bytes_out,
    econ: i.connect_failures,
    weight: t.weight,
    act: 1,
    bck: 0,
    chkfail: i.check_failures,
    chkdown: t.downCount,
    lastchg: Math.floor((now - t.changedAt) / 1000),
    downtime: Math.floor(t.downMs(now) / 1000),
    pid: 1,
    iid,
    sid,
    lbtot: i.total,
    check_status: unknown ? 'INI' : check === null ? '' : check.ok ? 'L4OK' : check.timedOut ? 'L4TOUT' : 'L4CON',
    check_duration: check?.durationMs,
    last_chk: check?.error ?? undefined,
    check_desc: unknown ? 'Initializing' : check === null ? '' : check.ok ? 'Layer4 check passed' : check.timedOut ? 'Layer4 timeout' : 'Layer4 connection problem',
    check_rise: rise,
    check_fall: fall,
    check_health: unknown ? rise : t.up ? rise + fall - 1 - t.failStreak : t.okStreak,
    addr: t.address,
    mode: 'tcp',
    connect: i.total + i.connect_failures,
    uweight: t.weight,
  };
}

/** HAProxy's words: MAINT, DRAIN, "DOWN n/rise" while rising, "UP n/fall" while falling (n: checks left). */
function serverStatus(t: Target, rise: number, fall: number): string {
  if (t.state === 'disabled') return 'MAINT';
  if (!t.up) return t.okStreak > 0 ? `DOWN ${t.okStreak}/${rise}` : 'DOWN';
  if (t.state === 'draining' || t.weight === 0) return 'DRAIN';
  if (!t.checked) return `UP 1/${fall}`;
  return t.failStreak > 0 ? `UP ${fall - t.failStreak}/${fall}` : 'UP';
}

/**
 * HAProxy 2.6's `show stat` columns, in order (`haproxy -v` 2.6.12). A
 * field proxyctl has is filled; the others are empty, as HAProxy leaves
 * fields empty that do not apply to a row.
 */
export const HAPROXY_STAT_FIELDS = [
  'pxname', 'svname', 'qcur', 'qmax', 'scur', 'smax', 'slim', 'stot', 'bin', 'bout', 'dreq', 'dresp', 'ereq', 'econ', 'eresp', 'wretr', 'wredis',
  'status', 'weight', 'act', 'bck', 'chkfail', 'chkdown', 'lastchg', 'downtime', 'qlimit', 'pid', 'iid', 'sid', 'throttle', 'lbtot', 'tracked', 'type',
  'rate', 'rate_lim', 'rate_max', 'check_status', 'check_code', 'check_duration', 'hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx',
  'hrsp_other', 'hanafail', 'req_rate', 'req_rate_max', 'req_tot', 'cli_abrt', 'srv_abrt', 'comp_in', 'comp_out', 'comp_byp', 'comp_rsp',
  'lastsess', 'last_chk', 'last_agt', 'qtime', 'ctime', 'rtime', 'ttime', 'agent_status', 'agent_code', 'agent_duration', 'check_desc',
  'agent_desc', 'check_rise', 'check_fall', 'check_health', 'agent_rise', 'agent_fall', 'agent_health', 'addr', 'cookie', 'mode', 'algo',
  'conn_rate', 'conn_rate_max', 'conn_tot', 'intercepted', 'dcon', 'dses', 'wrew', 'connect', 'reuse', 'cache_lookups', 'cache_hits',
  'srv_icur', 'src_ilim', 'qtime_max', 'ctime_max', 'rtime_max', 'ttime_max', 'eint', 'idle_conn_cur', 'safe_conn_cur', 'used_conn_cur',
  'need_conn_est', 'uweight', 'agg_server_status', 'agg_server_check_status', 'agg_check_status', '-', 'ssl_sess', 'ssl_reused_sess',
  'ssl_failed_handshake', 'h2_headers_rcvd', 'h2_data_rcvd', 'h2_settings_rcvd', 'h2_rst_stream_rcvd', 'h2_goaway_rcvd',
  'h2_detected_conn_protocol_errors', 'h2_detected_strm_protocol_errors', 'h2_rst_stream_resp', 'h2_goaway_resp', 'h2_open_connections',
  'h2_backend_open_streams', 'h2_total_connections', 'h2_backend_total_streams', 'h1_open_connections', 'h1_open_streams',
  'h1_total_connections', 'h1_total_streams', 'h1_bytes_in', 'h1_bytes_out', 'h1_spliced_bytes_in', 'h1_spliced_bytes_out',
] as const;

/** A CSV field as HAProxy writes one: bare unless it holds a comma, quote or newline. */
function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** `app stats --csv`: HAProxy's `show stat` CSV, header line `# pxname,svname,…,`, every line ending in a comma as HAProxy's do. */
export function statRowsCsv(rows: readonly StatRow[]): string {
  const lines = [`# ${HAPROXY_STAT_FIELDS.join(',')},`];
  for (const r of rows) lines.push(`${HAPROXY_STAT_FIELDS.map((f) => csvField((r as unknown as Record<string, unknown>)[f])).join(',')},`);
  return `${lines.join('\n')}\n`;
}
