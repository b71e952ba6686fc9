import { z } from 'zod';
import { defineCommand } from '../control/registry.js';
import { ProxyctlError } from '../errors.js';
import type { FleetChange, FleetMeta, FleetProxyDoc } from './documents.js';
import type { FleetEvent } from './event-log.js';
import type { NodeRecord } from './node-record.js';
import { renderChanges, renderEvent, renderFleetStatus, renderRollout } from './render.js';
import type { RolloutRecord } from './rollout.js';
import type { FleetWrite } from './store.js';

/**
 * The `fleet *` control commands (talk and JSON-RPC):
 *   fleet status | get | push [revision=N] JSON | diff JSON
 *   fleet proxy set SPEC | fleet proxy fallback SPEC | fleet proxy policy NAME
 *   fleet deploy SERVICE [max_unavailable=N] [node_timeout=S] | fleet rollout SERVICE
 *   fleet events [after=N] [wait=S]
 * The CLI's `fleet push FILE` reads FILE and sends its JSON as `document`.
 */

export interface FleetNodeRow extends NodeRecord {
  /** The node answering. */
  self: boolean;
}

export interface FleetStatus {
  node: string;
  prefix: string;
  endpoints: string[];
  connected: boolean;
  /** ISO 8601 while etcd is unreachable, else null. */
  disconnected_since: string | null;
  last_error: string | null;
  /** The fleet config revision: the newest this node has seen. */
  revision: number;
  /** The revision this node runs. */
  applied_revision: number;
  /** True when etcd did not answer: nodes and rollouts are as last read. */
  stale: boolean;
  nodes: FleetNodeRow[];
  /** The newest fleet deploy of each service. */
  rollouts: RolloutRecord[];
}

export interface FleetGetResult {
  revision: number;
  /** The fleet documents as a fleet file (what `fleet push` takes). */
  document: Record<string, unknown>;
  meta: FleetMeta | null;
}

export interface FleetPushResult extends FleetWrite {
  source: string;
}

export interface FleetDiffResult {
  /** The revision the file was compared with (`fleet push --revision` it to push exactly over it). */
  revision: number;
  changes: FleetChange[];
}

export interface FleetEventsResult {
  events: FleetEvent[];
  /** Pass as `after` to get the next ones. */
  last: number;
  /** This call started the agent's watch: earlier changes are not in the log. */
  started: boolean;
}

/** What the commands need from the fleet. */
export interface FleetControl {
  status(): Promise<FleetStatus>;
  get(): Promise<FleetGetResult>;
  push(document: unknown, source: string, revision: number | undefined): Promise<FleetPushResult>;
  diff(document: unknown, source: string): Promise<FleetDiffResult>;
  setProxy(edit: FleetProxyDoc, what: string): Promise<FleetWrite>;
  deploy(service: string, maxUnavailable: number, nodeTimeoutS: number): Promise<RolloutRecord>;
  rollout(service: string): Promise<RolloutRecord | null>;
  events(after: number, waitS: number): Promise<FleetEventsResult>;
}

const document = z.unknown().refine((d) => d !== undefined, 'document is required (the fleet file\'s JSON)');
const source = z.string().min(1).default('document');

/** `key=value` words after the positional ones. */
function keyValues(command: string, words: readonly string[], allowed: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of words) {
    const m = /^([a-z_]+)=(\d+(?:\.\d+)?)$/.exec(w);
    if (!m || !allowed.includes(m[1]!)) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: unexpected "${w}" (expected ${allowed.map((a) => `${a}=N`).join(' ')})`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function jsonFromTalk(command: string, text: string): unknown {
  if (text.trim() === '') throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: missing the fleet file's JSON`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: not valid JSON: ${(err as Error).message}`);
  }
}

const pushed = (r: FleetWrite) => (r.changed.length === 0 ? `unchanged at revision ${r.revision}` : `revision ${r.revision} (was ${r.previous_revision}): ${r.changed.join(', ')} changed`);

export function fleetCommands(fleet: FleetControl) {
  const none = z.object({}).strict();
  const spec = z.object({ spec: z.string({ required_error: 'spec is required' }) }).strict();
  const specFromTalk = (command: string) => (_args: readonly string[], rest: string) => {
    if (rest.trim() === '') throw new ProxyctlError('PXC_ERR_BAD_PARAMS', `${command}: missing SPEC`);
    return { spec: rest.trim() };
  };
  return [
    defineCommand({
      method: 'fleet.status',
      talk: 'fleet status',
      summary: 'fleet nodes (version, engine, config revision, apps, services, heartbeat, error), fleet deploys, etcd connection',
      params: none,
      handler: (): Promise<FleetStatus> => fleet.status(),
      renderText: renderFleetStatus,
    }),
    defineCommand({
      method: 'fleet.get',
      talk: 'fleet get',
      summary: 'the fleet documents (proxy list, apps, services) as a fleet file, and their revision',
      params: none,
      handler: (): Promise<FleetGetResult> => fleet.get(),
      renderText: (r) => `# fleet config revision ${r.revision}${r.meta ? ` (${r.meta.what} by ${r.meta.by} at ${r.meta.at})` : ''}\n${JSON.stringify(r.document, null, 2)}`,
    }),
    defineCommand({
      method: 'fleet.push',
      talk: 'fleet push',
      usage: '[revision=N] JSON',
      summary: 'validate a fleet file and write it in one transaction guarded by the revision read (or revision=N)',
      params: z.object({ document, source, revision: z.number().int().min(0).optional() }).strict(),
      fromTalk: (args, rest) => {
        const m = /^revision=(\d+)\s+/.exec(rest);
        return { document: jsonFromTalk('fleet push', m ? rest.slice(m[0].length) : rest), source: 'talk', ...(m ? { revision: Number(m[1]) } : {}) };
      },
      handler: ({ document: d, source: s, revision }): Promise<FleetPushResult> => fleet.push(d, s, revision),
      renderText: pushed,
    }),
    defineCommand({
      method: 'fleet.diff',
      talk: 'fleet diff',
      usage: 'JSON',
      summary: 'what pushing a fleet file would change',
      params: z.object({ document, source }).strict(),
      fromTalk: (_args, rest) => ({ document: jsonFromTalk('fleet diff', rest), source: 'talk' }),
      handler: ({ document: d, source: s }): Promise<FleetDiffResult> => fleet.diff(d, s),
      renderText: (r) => `against fleet config revision ${r.revision}:\n${renderChanges(r.changes)}`,
    }),
    defineCommand({
      method: 'fleet.proxy.set',
      talk: 'fleet proxy set',
      usage: 'SPEC',
      summary: 'replace the proxy groups on every node of the fleet',
      params: spec,
      fromTalk: specFromTalk('fleet proxy set'),
      handler: ({ spec: s }): Promise<FleetWrite> => {
        if (s.trim() === '') throw new ProxyctlError('PXC_ERR_BAD_PROXY_SPEC', 'fleet proxy set: empty proxy string (use DIRECT for no proxy)');
        return fleet.setProxy({ http_proxy: s.trim() }, 'proxy set');
      },
      renderText: pushed,
    }),
    defineCommand({
      method: 'fleet.proxy.fallback',
      talk: 'fleet proxy fallback',
      usage: 'SPEC',
      summary: 'replace the fallback proxies on every node of the fleet ("" over JSON-RPC clears them)',
      params: spec,
      fromTalk: specFromTalk('fleet proxy fallback'),
      handler: ({ spec: s }): Promise<FleetWrite> => fleet.setProxy({ fallback_proxy: s.trim() }, 'proxy fallback'),
      renderText: pushed,
    }),
    defineCommand({
      method: 'fleet.proxy.policy',
      talk: 'fleet proxy policy',
      usage: 'NAME',
      summary: 'set the selection policy on every node of the fleet (default or sharding)',
      params: z.object({ name: z.string().min(1, 'name is required') }).strict(),
      positional: ['name'],
      handler: ({ name }): Promise<FleetWrite> => fleet.setProxy({ policy: name }, 'proxy policy'),
      renderText: pushed,
    }),
    defineCommand({
      method: 'fleet.deploy',
      talk: 'fleet deploy',
      usage: 'SERVICE [max_unavailable=N] [node_timeout=S]',
      summary: 'roll the service on every node running it, batch by batch, under an etcd lock; returns once started (see fleet rollout)',
      params: z
        .object({
          service: z.string().min(1, 'service name required'),
          max_unavailable: z.number().int().min(1).default(1),
          node_timeout: z.number().positive().default(600),
        })
        .strict(),
      fromTalk: (args) => {
        if (args.length < 1) throw new ProxyctlError('PXC_ERR_BAD_PARAMS', 'fleet deploy: usage: fleet deploy SERVICE [max_unavailable=N] [node_timeout=S]');
        return { service: args[0]!, ...keyValues('fleet deploy', args.slice(1), ['max_unavailable', 'node_timeout']) };
      },
      handler: ({ service, max_unavailable, node_timeout }): Promise<RolloutRecord> => fleet.deploy(service, max_unavailable, node_timeout),
      renderText: renderRollout,
    }),
    defineCommand({
      method: 'fleet.rollout',
      talk: 'fleet rollout',
      usage: 'SERVICE',
      summary: 'the newest fleet deploy of the service: state and each node\'s progress',
      params: z.object({ service: z.string().min(1, 'service name required') }).strict(),
      positional: ['service'],
      handler: ({ service }): Promise<RolloutRecord | null> => fleet.rollout(service),
      renderText: (r) => (r === null ? '(no fleet deploy of this service)' : renderRollout(r)),
    }),
    defineCommand({
      method: 'fleet.events',
      talk: 'fleet events',
      usage: '[after=N] [wait=S]',
      summary: 'fleet changes as this agent sees them (config revisions, nodes joining and leaving, deploy progress); wait=S long-polls',
      params: z
        .object({
          after: z.number().int().min(0).default(0),
          wait: z.number().min(0).max(25).default(0),
        })
        .strict(),
      fromTalk: (args) => keyValues('fleet events', args, ['after', 'wait']),
      handler: ({ after, wait }): Promise<FleetEventsResult> => fleet.events(after, wait),
      renderText: (r) => [...(r.started ? ['(watching the fleet from now on)'] : []), ...r.events.map(renderEvent)].join('\n') || '(no events)',
    }),
  ] as const;
}
