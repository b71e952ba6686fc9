import { z } from 'zod';
import { defineCommand, type CommandRegistry, type MethodMap } from '../control/registry.js';
import type { AppInfo } from './app.js';
import type { ConnectionInfo } from './engine/types.js';
import type { AdminState } from './target.js';

/** What the commands need from the forward subsystem. */
export interface ForwardControl {
  list(): AppInfo[];
  app(name: string): { info(): AppInfo };
  setTargetState(app: string, address: string, state: AdminState): void;
  openConnections(app: string, limit: number): Promise<ConnectionInfo[]>;
}

export interface AppSummary {
  name: string;
  protocol: 'tcp' | 'foo';
  ports: number[];
  ports_listening: number;
  targets_up: number;
  targets_total: number;
  active: number;
  total: number;
  request_rate_1s: number | null;
}

function summary(a: AppInfo): AppSummary {
  return {
    name: a.name,
    protocol: a.protocol,
    ports: a.ports.map((p) => p.port),
    ports_listening: a.ports.filter((p) => p.state === 'listening').length,
    targets_up: a.targets.filter((t) => t.health === 'up' && t.state === 'enabled').length,
    targets_total: a.targets.length,
    active: a.active,
    total: a.total,
    request_rate_1s: a.foo ? a.foo.request_rate_1s : null,
  };
}

const appParam = z.string().min(1, 'app name required');

function targetCommand<const M extends string>(method: M, verb: 'drain' | 'enable' | 'disable', state: AdminState, summaryText: string, fwd: ForwardControl) {
  const talk = `target ${verb}`;
  return defineCommand({
    method,
    talk,
    usage: 'APP HOST:PORT',
    summary: summaryText,
    params: z.object({ app: appParam, target: z.string().min(1, 'target required') }).strict(),
    positional: ['app', 'target'],
    handler: ({ app, target }): null => {
      fwd.setTargetState(app, target, state);
      return null;
    },
  });
}

function forwardCommands(fwd: ForwardControl) {
  return [
    defineCommand({
      method: 'app.list',
      talk: 'app list',
      summary: 'apps with protocol, ports, targets up/total, active connections and request rate',
      params: z.object({}).strict(),
      handler: (): AppSummary[] => fwd.list().map(summary),
      renderText: (apps) =>
        apps.length === 0
          ? 'no apps'
          : apps
              .map((a) => `${a.name} ${a.protocol} ports=${a.ports.join(',')} targets=${a.targets_up}/${a.targets_total} active=${a.active}${a.request_rate_1s === null ? '' : ` req/s=${a.request_rate_1s}`}`)
              .join('\n'),
    }),
    defineCommand({
      method: 'app.info',
      talk: 'app info',
      usage: 'NAME',
      summary: 'ports, targets with health and state, connections, bytes, failures, foo counters',
      params: z.object({ name: appParam }).strict(),
      positional: ['name'],
      handler: ({ name }): AppInfo => fwd.app(name).info(),
      renderText: (a) => JSON.stringify(a, null, 2),
    }),
    defineCommand({
      method: 'app.connections',
      talk: 'app connections',
      usage: 'NAME',
      summary: 'open connections of an app: client, target, state, age, bytes (the engine’s view, at most 1000)',
      params: z.object({ name: appParam, limit: z.number().int().min(1).max(100_000).default(1000) }).strict(),
      positional: ['name'],
      handler: ({ name, limit }): Promise<ConnectionInfo[]> => fwd.openConnections(name, limit),
      renderText: (rows) => (rows.length === 0 ? 'no connections' : rows.map((r) => `${r.client} -> ${r.target || '-'} ${r.state} ${Math.round(r.age_ms / 1000)}s in=${r.bytes_in} out=${r.bytes_out}`).join('\n')),
    }),
    targetCommand('target.drain', 'drain', 'draining', 'stop new connections to a target; open ones continue', fwd),
    targetCommand('target.enable', 'enable', 'enabled', 'let a drained or disabled target take new connections again', fwd),
    targetCommand('target.disable', 'disable', 'disabled', 'stop new connections and health checks of a target; open ones continue', fwd),
  ] as const;
}

export function registerForwardCommands(registry: CommandRegistry, fwd: ForwardControl): void {
  registry.add(...forwardCommands(fwd));
}

export type ForwardMethods = MethodMap<ReturnType<typeof forwardCommands>>;
