import { ConfigError, parseConfig } from '../config/load.js';
import { BUILTIN_POLICIES } from '../config/schema.js';

/**
 * The fleet documents: the parts of a config that one `fleet push` sets for
 * every agent, stored as JSON under `<prefix>config/`. An agent's effective
 * config is its local file overlaid by them (overlayFleet), validated once by
 * the same schema as the file. Pure functions: no etcd here.
 */

/** The keys a fleet document may set, and how each overlays the local file (proxyctl.conf(5), FLEET). */
export const FLEET_WIDE_KEYS: ReadonlyArray<readonly [key: string, how: string]> = [
  ['proxy.http_proxy', 'the proxy groups; replaces the local value'],
  ['proxy.fallback_proxy', 'the fallback proxies; replaces the local value'],
  ['proxy.policy', 'the selection policy, default or sharding (a policy module is code each node would run: only a node\'s own config file may name one); replaces the local value'],
  ['apps', 'app proxies, merged by name: a fleet app replaces the local app of the same name, local apps of other names stay (the Fly form Apps is accepted and stored as apps)'],
  ['services', 'services, merged by name like apps'],
];

const PROXY_KEYS = ['http_proxy', 'fallback_proxy', 'policy'] as const;
const LIST_KEYS = ['apps', 'services'] as const;

export type FleetProxyDoc = Partial<Record<(typeof PROXY_KEYS)[number], string>>;
type Entry = Record<string, unknown> & { name: string };

/** The fleet's shared sections; an absent section leaves the local file's as it is. */
export interface FleetDocs {
  proxy?: FleetProxyDoc;
  apps?: Entry[];
  services?: Entry[];
}

/** Who wrote the fleet config last, and how. */
export interface FleetMeta {
  /** The node whose agent wrote it. */
  by: string;
  /** ISO 8601. */
  at: string;
  /** `push FILE`, `proxy set`, … */
  what: string;
}

/** The fleet config at one etcd revision (the highest mod revision of its keys; 0: nothing pushed yet). */
export interface FleetSnapshot {
  revision: number;
  docs: FleetDocs;
  meta: FleetMeta | null;
}

export type FleetSection = 'proxy' | 'apps' | 'services';
export const FLEET_SECTIONS: readonly FleetSection[] = ['proxy', 'apps', 'services'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A fleet file (a config file holding fleet-wide keys only) → the fleet
 * documents. Node-local keys are refused by name; everything else goes through
 * the config validator, so a document an agent would refuse is never written.
 */
export function docsFromFile(json: unknown, source: string): FleetDocs {
  if (!isObject(json)) throw new ConfigError(source, ['(root): a fleet file is a JSON object, as a config file']);
  const problems: string[] = [];
  const wide = FLEET_WIDE_KEYS.map(([k]) => k).join(', ');
  for (const [key, value] of Object.entries(json)) {
    if (key === 'proxy' && isObject(value)) {
      for (const k of Object.keys(value)) if (!(PROXY_KEYS as readonly string[]).includes(k)) problems.push(`proxy.${k}: node-local, not fleet-wide (fleet-wide keys: ${wide})`);
    } else if (!['proxy', 'Apps', ...LIST_KEYS].includes(key)) problems.push(`${key}: node-local, not fleet-wide (fleet-wide keys: ${wide})`);
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  parseConfig(json, source);
  const docs: FleetDocs = {};
  const proxy: FleetProxyDoc = {};
  const fileProxy = json.proxy;
  if (isObject(fileProxy)) for (const k of PROXY_KEYS) if (typeof fileProxy[k] === 'string') proxy[k] = fileProxy[k];
  if (Object.keys(proxy).length > 0) docs.proxy = proxy;
  refuseModulePolicy(docs, source);
  const fly = Array.isArray(json.Apps) ? (json.Apps as Array<{ Name: string; Ports: number[]; Targets: string[] }>).map((a) => ({ name: a.Name, ports: a.Ports, targets: a.Targets })) : [];
  const apps = [...((json.apps as Entry[] | undefined) ?? []), ...fly];
  if (apps.length > 0) docs.apps = apps;
  const services = (json.services as Entry[] | undefined) ?? [];
  if (services.length > 0) docs.services = services;
  return docs;
}

/** The documents as a fleet file: what `fleet get` prints and `fleet push` takes back. */
export function docsToFile(docs: FleetDocs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (docs.proxy) out.proxy = docs.proxy;
  if (docs.apps) out.apps = docs.apps;
  if (docs.services) out.services = docs.services;
  return out;
}

/** Throws ConfigError when the documents would not validate on their own. */
export function validateDocs(docs: FleetDocs, source: string): void {
  refuseModulePolicy(docs, source);
  parseConfig(docsToFile(docs), source);
}

/**
 * A policy module is code every node would import as its agent's user, so a
 * fleet document (written by anyone with a control socket or etcd access) may
 * name only a built-in policy; a module stays node-local, in a config file.
 */
function refuseModulePolicy(docs: FleetDocs, source: string): void {
  const policy = docs.proxy?.policy;
  if (policy !== undefined && !(BUILTIN_POLICIES as readonly string[]).includes(policy)) {
    throw new ConfigError(source, [`proxy.policy: "${policy}" refused: a fleet document names only a built-in policy (${BUILTIN_POLICIES.join(', ')}); a policy module is named by a node's own config file`]);
  }
}

/**
 * The local file's JSON overlaid by the fleet documents (not yet validated):
 * proxy keys replace the file's, apps and services are merged by name (the
 * fleet's entry wins). A malformed section of the file is left as it is, for
 * the validator to name.
 */
export function overlayFleet(fileJson: unknown, docs: FleetDocs): unknown {
  refuseModulePolicy(docs, 'fleet documents');
  if (!isObject(fileJson)) return fileJson;
  const out: Record<string, unknown> = { ...fileJson };
  if (docs.proxy && (out.proxy === undefined || isObject(out.proxy))) out.proxy = { ...(out.proxy as object | undefined), ...docs.proxy };
  for (const key of LIST_KEYS) {
    const fleet = docs[key];
    if (!fleet || (out[key] !== undefined && !Array.isArray(out[key]))) continue;
    const names = new Set(fleet.map((e) => e.name));
    out[key] = [...((out[key] as Entry[] | undefined) ?? []).filter((e) => !names.has(e?.name)), ...fleet];
    if (key === 'apps' && Array.isArray(out.Apps)) out.Apps = (out.Apps as Array<{ Name?: unknown }>).filter((a) => !names.has(a?.Name as string));
  }
  return out;
}

/** Names of the sections that differ between two sets of documents. */
export function changedSections(a: FleetDocs, b: FleetDocs): FleetSection[] {
  return FLEET_SECTIONS.filter((s) => JSON.stringify(a[s] ?? null) !== JSON.stringify(b[s] ?? null));
}

export interface FleetChange {
  op: 'add' | 'remove' | 'change';
  /** `proxy.http_proxy`, `apps[web]`, `services[notes].drain`. */
  path: string;
  from?: unknown;
  to?: unknown;
}

/** What replacing `from` by `to` changes, leaf by leaf; apps and services are matched by name. */
export function diffDocs(from: FleetDocs, to: FleetDocs): FleetChange[] {
  const changes: FleetChange[] = [];
  for (const k of PROXY_KEYS) diffValue(`proxy.${k}`, from.proxy?.[k], to.proxy?.[k], changes);
  for (const key of LIST_KEYS) {
    const before = new Map((from[key] ?? []).map((e) => [e.name, e]));
    const after = new Map((to[key] ?? []).map((e) => [e.name, e]));
    for (const [name, e] of before) if (!after.has(name)) changes.push({ op: 'remove', path: `${key}[${name}]`, from: e });
    for (const [name, e] of after) {
      const old = before.get(name);
      if (old === undefined) changes.push({ op: 'add', path: `${key}[${name}]`, to: e });
      else diffValue(`${key}[${name}]`, old, e, changes);
    }
  }
  return changes;
}

function diffValue(path: string, a: unknown, b: unknown, out: FleetChange[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a === undefined) out.push({ op: 'add', path, to: b });
  else if (b === undefined) out.push({ op: 'remove', path, from: a });
  else if (isObject(a) && isObject(b)) for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diffValue(`${path}.${k}`, a[k], b[k], out);
  else out.push({ op: 'change', path, from: a, to: b });
}
