import { z } from 'zod';
import { defineCommand, type MethodMap } from '../control/registry.js';
import { ProxyctlError } from '../errors.js';
import type { DeployRecord, DeployState, DeploymentController, ServiceInfo, ServiceSummary } from './controller.js';
import { describeService, renderLogLine } from './render.js';

/** What the commands need from the deploy subsystem. */
export interface ServiceDirectory {
  controller(name: string): DeploymentController;
  list(): DeploymentController[];
  /** http://bind:port<path> of the app in front of the service. */
  endpoint(name: string): { service: string; app: string; url: string };
}

export interface DeployStarted extends DeployRecord {
  /** The service's state right after the deploy started. */
  state: DeployState;
}

export interface ServiceLogLine {
  at: string;
  version: number;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface ServiceLogs {
  service: string;
  lines: ServiceLogLine[];
}

const serviceParam = z.object({ service: z.string().min(1, 'service name required') }).strict();

function deployCommands(services: ServiceDirectory) {
  return [
    defineCommand({
      method: 'service.deploy',
      talk: 'deploy',
      usage: 'SERVICE',
      summary: 'roll the service to a new version (returns at once; see service info)',
      params: serviceParam,
      positional: ['service'],
      handler: ({ service }): DeployStarted => {
        const c = services.controller(service);
        const record = c.deploy();
        return { ...record, state: c.state };
      },
      renderText: (d) => `deploy ${d.id}: ${d.service} v${d.from_version ?? '-'} -> v${d.version}, ${d.state}`,
    }),
    defineCommand({
      method: 'service.list',
      talk: 'service list',
      summary: 'services: state, current and previous version, req/s',
      params: z.object({}).strict(),
      handler: (): ServiceSummary[] => services.list().map((c) => c.summary()),
      renderText: (list) =>
        list.length === 0
          ? '(no services)'
          : list.map((s) => `${s.name} ${s.state} ${s.health} current=${s.current ? `v${s.current.version}` : '-'} previous=${s.previous ? `v${s.previous.version}` : '-'} req/s=${s.req_rate}`).join('\n'),
    }),
    defineCommand({
      method: 'service.info',
      talk: 'service info',
      usage: 'SERVICE',
      summary: 'instances (pids, ports, states), shards, deploy history',
      params: serviceParam,
      positional: ['service'],
      handler: ({ service }): ServiceInfo => services.controller(service).info(),
      renderText: (info) => describeService(info),
    }),
    defineCommand({
      method: 'service.logs',
      talk: 'service logs',
      usage: 'SERVICE [lines=N]',
      summary: 'the last lines of the instances\' stdout and stderr (default 100, at most 1000)',
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
          .map((l) => ({ at: new Date(l.at).toISOString(), version: l.version, stream: l.stream, line: l.line })),
      }),
      renderText: (logs) => (logs.lines.length === 0 ? '(no output yet)' : logs.lines.map((l) => renderLogLine(logs.service, l)).join('\n')),
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

export { deployCommands };
export type DeployMethods = MethodMap<ReturnType<typeof deployCommands>>;
