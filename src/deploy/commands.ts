import { z } from 'zod';
import { defineCommand } from '../control/registry.js';
import { ProxyctlError } from '../errors.js';
import type { DeployRecord, DeployState, DeploymentController, ServiceHistoryView, ServiceInfo, ServiceSummary } from './controller.js';

/** What the commands need from the deploy subsystem. */
export interface ServiceDirectory {
  controller(name: string): DeploymentController;
  list(): DeploymentController[];
  /** http://bind:port<path> of the app in front of the service. */
  endpoint(name: string): { service: string; app: string; url: string };
}

export interface DeployStarted extends DeployRecord {
  /** The service's state right after the operation started. */
  state: DeployState;
}

export interface ServiceLogLine {
  at: string;
  version: number;
  /** Which of the service's instances wrote it. */
  instance: number;
  stream: 'stdout' | 'stderr';
  line: string;
  /** Per service, from 1 (service.log events carry the same numbers). */
  seq: number;
}

export interface ServiceLogs {
  service: string;
  lines: ServiceLogLine[];
}

const serviceParam = z.object({ service: z.string().min(1, 'service name required') }).strict();

function started(c: DeploymentController, record: DeployRecord): DeployStarted {
  return { ...record, state: c.state };
}

export function deployCommands(services: ServiceDirectory) {
  const op = <const M extends string>(method: M, talk: string, summary: string, start: (c: DeploymentController) => DeployRecord) =>
    defineCommand({
      method,
      talk,
      usage: 'SERVICE',
      summary,
      params: serviceParam,
      positional: ['service'],
      handler: ({ service }): DeployStarted => {
        const c = services.controller(service);
        return started(c, start(c));
      },
    });
  return [
    op('service.deploy', 'deploy', 'roll the service to a new version from the config (returns at once; see service info, or events)', (c) => c.deploy()),
    defineCommand({
      method: 'service.rollback',
      talk: 'rollback',
      usage: 'SERVICE [VERSION]',
      summary: "roll the service to a new version with the previous version's command/env/cwd (or VERSION's)",
      params: z.object({ service: z.string().min(1, 'service name required'), version: z.number().int().min(1).optional() }).strict(),
      fromTalk: (args) => {
        if (args.length < 1 || args.length > 2) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'rollback: usage: rollback SERVICE [VERSION]');
        if (args[1] === undefined) return { service: args[0]! };
        const m = /^v?(\d+)$/.exec(args[1]);
        if (!m) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `rollback: VERSION must be a version number like 3 or v3 (got "${args[1]}")`);
        return { service: args[0]!, version: Number(m[1]) };
      },
      handler: ({ service, version }): DeployStarted => {
        const c = services.controller(service);
        return started(c, c.rollback(version));
      },
    }),
    op('service.restart', 'service restart', 'restart every instance, rolling (zero downtime, batches of max_surge); revives crashed and given-up ones', (c) => c.restart()),
    op('service.start', 'service start', 'launch what is missing: a stopped service, crashed or given-up instances', (c) => c.start()),
    op('service.stop', 'service stop', 'take every instance out of the app and stop it; no restarts until service start (survives an agent restart)', (c) => c.stop()),
    defineCommand({
      method: 'service.scale',
      talk: 'service scale',
      usage: 'SERVICE N',
      summary: 'run N instances of the current version behind the app (1-64; kept until the config\'s instances changes)',
      params: z.object({ service: z.string().min(1, 'service name required'), instances: z.number().int().min(1).max(64) }).strict(),
      fromTalk: (args) => {
        if (args.length !== 2 || !/^\d+$/.test(args[1]!)) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'service scale: usage: service scale SERVICE N');
        return { service: args[0]!, instances: Number(args[1]) };
      },
      handler: ({ service, instances }): DeployStarted => {
        const c = services.controller(service);
        return started(c, c.scale(instances));
      },
    }),
    defineCommand({
      method: 'service.list',
      talk: 'service list',
      summary: 'services: state, health, version, instances ready, restarts, req/s',
      params: z.object({}).strict(),
      handler: (): ServiceSummary[] => services.list().map((c) => c.summary()),
      renderText: (list) =>
        list.length === 0
          ? '(no services)'
          : list.map((s) => `${s.name} ${s.state} ${s.health} current=${s.version === null ? '-' : `v${s.version}`} previous=${s.previous ? `v${s.previous.version}` : '-'} ready=${s.ready}/${s.scale} restarts=${s.restarts} req/s=${s.req_rate}`).join('\n'),
    }),
    defineCommand({
      method: 'service.info',
      talk: 'service info',
      usage: 'SERVICE',
      summary: 'instances (pids, ports, states, restarts), shards, last operations',
      params: serviceParam,
      positional: ['service'],
      handler: ({ service }): ServiceInfo => services.controller(service).info(),
    }),
    defineCommand({
      method: 'service.history',
      talk: 'service history',
      usage: 'SERVICE',
      summary: 'releases (version, command, source) and operations (deploys, rollbacks, restarts, scales), kept across agent restarts',
      params: z.object({ service: z.string().min(1, 'service name required'), limit: z.number().int().min(1).max(100).default(100) }).strict(),
      positional: ['service'],
      handler: ({ service, limit }): ServiceHistoryView => services.controller(service).history(limit),
    }),
    defineCommand({
      method: 'service.logs',
      talk: 'service logs',
      usage: 'SERVICE [lines=N]',
      summary: "the last lines of the instances' stdout and stderr (default 100, at most 1000)",
      params: z
        .object({
          service: z.string().min(1, 'service name required'),
          lines: z.number().int().min(1).max(1000).default(100),
        })
        .strict(),
      fromTalk: (args) => {
        if (args.length < 1 || args.length > 2) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'service logs: expected SERVICE [lines=N]');
        const m = args[1] === undefined ? null : /^(?:lines=)?(\d+)$/.exec(args[1]);
        if (args[1] !== undefined && !m) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `service logs: expected lines=N, got "${args[1]}"`);
        return m ? { service: args[0]!, lines: Number(m[1]) } : { service: args[0]! };
      },
      handler: ({ service, lines }): ServiceLogs => ({
        service,
        lines: services
          .controller(service)
          .logs(lines)
          .map((l) => ({ at: new Date(l.at).toISOString(), version: l.version, instance: l.instance, stream: l.stream, line: l.line, seq: l.seq })),
      }),
    }),
    defineCommand({
      method: 'service.endpoint',
      talk: 'service endpoint',
      usage: 'SERVICE',
      summary: 'URL of the service through its app (http://bind:port/rpc)',
      params: serviceParam,
      positional: ['service'],
      handler: ({ service }) => services.endpoint(service),
      renderText: (e) => e.url,
    }),
  ] as const;
}
