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
