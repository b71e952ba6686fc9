import { z } from 'zod';
import { defineCommand } from '../control/registry.js';
import { ProxyctlError } from '../errors.js';
import type { AppInfo } from './app.js';
import type { ConnectionInfo } from './engine/types.js';
import { statRowsCsv, type StatRow } from './stat-rows.js';
import type { AdminState, TargetInfo } from './target.js';

/**
 * The `app *` and `target *` control commands (talk and JSON-RPC), after
 * HAProxy's runtime API: `show sess` → app sessions, `show stat` → app stats
 * (its CSV with format=csv / --csv), `add server` / `del server` /
 * `set weight` → target add / remove / weight, `disable|enable server`,
 * `set server state drain` → target disable / enable / drain. Every command
 * that changes a target returns what the target is now (TargetChange), shown
 * as one confirmation line: `web 127.0.0.1:5001: draining`.
 */

/** What the commands need from the forward subsystem. */
export interface ForwardControl {
  list(): AppInfo[];
  app(name: string): { info(): AppInfo };
  sessions(app: string, limit: number): Promise<AppSessions>;
  stats(app: string | undefined): AppStats;
  setTargetState(app: string, address: string, state: AdminState): TargetChange;
  addRuntimeTarget(app: string, address: string, weight: number): TargetChange;
  removeRuntimeTarget(app: string, address: string): TargetChange;
  setTargetWeight(app: string, address: string, weight: number): TargetChange;
  resetApp(app: string): AppReset;
}

export interface AppSummary {
  name: string;
  protocol: 'tcp' | 'foo';
  /** Where the app listens: each port as bound (a configured 0 resolved), the configured one where not listening. */
  ports: number[];
  ports_listening: number;
  /** Enabled targets whose last check passed. */
  targets_up: number;
  /** Targets without a check result yet (they take traffic). */
  targets_unknown: number;
  targets_total: number;
  active: number;
  total: number;
  request_rate_1s: number | null;
}

/** A target after a target command: what changed and the target as it is now. */
export interface TargetChange {
  app: string;
  change: 'added' | 'removed' | 'weight' | AdminState;
  target: TargetInfo;
}

/** `app sessions`: open connections, oldest first; `active` counts them all, `sessions` holds at most the limit. */
export interface AppSessions {
  app: string;
  active: number;
  sessions: ConnectionInfo[];
}

/** `app stats`: HAProxy `show stat` rows; `csv` is their CSV when it was asked for. */
export interface AppStats {
  rows: StatRow[];
  csv?: string;
}

/** `app reset`: whether there were run-time changes, and the targets now (the config's). */
export interface AppReset {
  app: string;
  dropped: boolean;
  targets: TargetInfo[];
}

function summary(a: AppInfo): AppSummary {
  return {
    name: a.name,
    protocol: a.protocol,
    ports: a.ports.map((p) => p.bound_port ?? p.port),
    ports_listening: a.ports.filter((p) => p.state === 'listening').length,
    targets_up: a.targets.filter((t) => t.health === 'up' && t.state === 'enabled').length,
    targets_unknown: a.targets_unknown,
    targets_total: a.targets.length,
    active: a.active,
    total: a.total,
    request_rate_1s: a.foo ? a.foo.request_rate_1s : null,
  };
}

const appParam = z.string().min(1, 'app name required');
const targetParam = z.string().min(1, 'target required');
/** A whole number, also as a talk word ("3"); anything else is left for the schema to refuse. */
const wholeNumber = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), schema);
const weightParam = wholeNumber(z.number({ invalid_type_error: 'must be an integer 0-256' }).int('must be an integer 0-256').min(0, 'must be 0-256').max(256, 'must be 0-256'));
const limitParam = wholeNumber(z.number({ invalid_type_error: 'must be a whole number 1-100000' }).int('must be a whole number 1-100000').min(1, 'must be 1-100000').max(100_000, 'must be 1-100000'));

/** Talk `key=value` options after the positional words (as `download add … index=N`). */
function talkOptions(command: string, usage: string, args: readonly string[], positional: number, keys: readonly string[]): { words: string[]; options: Record<string, string> } {
  const words: string[] = [];
  const options: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0 && keys.includes(a.slice(0, eq))) options[a.slice(0, eq)] = a.slice(eq + 1);
    else if (eq > 0) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: unknown option "${a}" (${keys.map((k) => `${k}=…`).join(' ')})`);
    else words.push(a);
  }
  if (words.length > positional) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: usage: ${command} ${usage}`);
  return { words, options };
}

function adminCommand<const M extends string>(method: M, verb: 'drain' | 'enable' | 'disable', state: AdminState, summaryText: string, fwd: ForwardControl) {
  return defineCommand({
    method,
    talk: `target ${verb}`,
    usage: 'APP HOST:PORT',
    summary: summaryText,
    params: z.object({ app: appParam, target: targetParam }).strict(),
    positional: ['app', 'target'],
    handler: ({ app, target }): TargetChange => fwd.setTargetState(app, target, state),
  });
}

export function forwardCommands(fwd: ForwardControl) {
  return [
    defineCommand({
      method: 'app.list',
      talk: 'app list',
      summary: 'apps with protocol, ports, targets up/total, active connections and request rate',
      params: z.object({}).strict(),
      handler: (): AppSummary[] => fwd.list().map(summary),
    }),
    defineCommand({
      method: 'app.info',
      talk: 'app info',
      usage: 'NAME',
      summary: 'ports, targets with health, state and weight, connections, bytes, failures, foo counters',
      params: z.object({ name: appParam }).strict(),
      positional: ['name'],
      handler: ({ name }): AppInfo => fwd.app(name).info(),
    }),
    defineCommand({
      method: 'app.sessions',
      talk: 'app sessions',
      usage: 'NAME [limit=N]',
      summary: 'open connections of an app, oldest first: client, target, state, age, bytes each way (HAProxy: show sess; at most 1000 unless limit=N)',
      params: z.object({ name: appParam, limit: limitParam.default(1000) }).strict(),
      fromTalk: (args) => {
        const { words, options } = talkOptions('app sessions', 'NAME [limit=N]', args, 1, ['limit']);
        return { name: words[0] ?? '', ...(options.limit === undefined ? {} : { limit: options.limit }) };
      },
      handler: ({ name, limit }): Promise<AppSessions> => fwd.sessions(name, limit),
    }),
    defineCommand({
      method: 'app.stats',
      talk: 'app stats',
      usage: '[NAME] [format=csv]',
      summary: "HAProxy show stat rows of one app or all: FRONTEND, a row per target, BACKEND (format=csv: HAProxy's CSV)",
      params: z.object({ name: appParam.optional(), csv: z.boolean().default(false) }).strict(),
      fromTalk: (args) => {
        const { words, options } = talkOptions('app stats', '[NAME] [format=csv]', args, 1, ['format']);
        if (options.format !== undefined && options.format !== 'csv' && options.format !== 'table') throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `app stats: format must be csv or table, not "${options.format}"`);
        return { ...(words[0] === undefined ? {} : { name: words[0] }), csv: options.format === 'csv' };
      },
      handler: ({ name, csv }): AppStats => {
        const s = fwd.stats(name);
        return csv ? { ...s, csv: statRowsCsv(s.rows) } : s;
      },
    }),
    defineCommand({
      method: 'app.reset',
      talk: 'app reset',
      usage: 'NAME',
      summary: 'drop the run-time target changes of an app (target add/remove/weight): its targets are the config’s again',
      params: z.object({ name: appParam }).strict(),
      positional: ['name'],
      handler: ({ name }): AppReset => fwd.resetApp(name),
    }),
    defineCommand({
      method: 'target.add',
      talk: 'target add',
      usage: 'APP HOST:PORT [weight=W]',
      summary: 'add a target at run time (health unknown until its first check; kept in the state DB until app reset)',
      params: z.object({ app: appParam, target: targetParam, weight: weightParam.default(1) }).strict(),
      fromTalk: (args) => {
        const { words, options } = talkOptions('target add', 'APP HOST:PORT [weight=W]', args, 2, ['weight']);
        if (words.length !== 2) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'target add: usage: target add APP HOST:PORT [weight=W]');
        return { app: words[0]!, target: words[1]!, ...(options.weight === undefined ? {} : { weight: options.weight }) };
      },
      handler: ({ app, target, weight }): TargetChange => fwd.addRuntimeTarget(app, target, weight),
    }),
    defineCommand({
      method: 'target.remove',
      talk: 'target remove',
      usage: 'APP HOST:PORT',
      summary: 'remove a target at run time: no new connections, open ones continue (kept until app reset)',
      params: z.object({ app: appParam, target: targetParam }).strict(),
      positional: ['app', 'target'],
      handler: ({ app, target }): TargetChange => fwd.removeRuntimeTarget(app, target),
    }),
    defineCommand({
      method: 'target.weight',
      talk: 'target weight',
      usage: 'APP HOST:PORT WEIGHT',
      summary: 'set a target’s share of new connections, 0-256; 0 drains it (HAProxy: set weight; kept until app reset)',
      params: z.object({ app: appParam, target: targetParam, weight: weightParam }).strict(),
      positional: ['app', 'target', 'weight'],
      handler: ({ app, target, weight }): TargetChange => fwd.setTargetWeight(app, target, weight),
    }),
    adminCommand('target.drain', 'drain', 'draining', 'stop new connections to a target; open ones continue', fwd),
    adminCommand('target.enable', 'enable', 'enabled', 'let a drained or disabled target take new connections again', fwd),
    adminCommand('target.disable', 'disable', 'disabled', 'stop new connections and health checks of a target; open ones continue', fwd),
  ] as const;
}
