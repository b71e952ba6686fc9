import { hostname } from 'node:os';
import { z } from 'zod';
import { parseProxySpec } from './proxy-spec.js';
import { parseBytes } from './units.js';

/**
 * The config file's schema: every key, its default and its description. This is
 * the one place defaults are applied; the rest of the code reads the normalised
 * `Config` and never checks `?? default`. `man/proxyctl.conf.5` is generated
 * from the descriptions here (scripts/gen-man.js), so describe every key.
 *
 * Durations are seconds (fractions allowed), sizes are bytes.
 */

const seconds = (def: number, what: string) => z.number().positive().default(def).describe(`${what} (seconds, default ${def})`);

export const portSchema = z
  .number({ invalid_type_error: 'port must be a number' })
  .int('port must be an integer')
  .refine((p) => p >= 1 && p <= 65535, (p) => ({ message: `port ${p} out of range (1-65535)` }));

/** `host:port` (IPv6 as `[::1]:port`). */
export const hostPortSchema = z.string().refine(
  (s) => parseHostPort(s) !== null,
  (s) => ({ message: `malformed target "${s}" (expected host:port with port 1-65535)` }),
);

/** `host:port` → its parts, or null; `minPort` 0 for a listen address (0: the kernel picks). */
export function parseHostPort(s: string, minPort = 1): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < minPort || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

const controlSchema = z
  .object({
    mode: z
      .string()
      .regex(/^0?[0-7]{3}$/, 'mode must be octal, e.g. "0600"')
      .default('0600')
      .describe('file mode of the control socket (octal string, default "0600"); e.g. "0660" with control.group'),
    group: z.string().nullable().default(null).describe('group owning the control socket (name or gid), default none'),
    max_line: z.number().int().min(1024).default(65536).describe('longest accepted control line in bytes (default 65536)'),
    idle_timeout: seconds(10, 'a control connection that sends no complete line for this long is closed'),
    max_connections: z.number().int().min(1).default(256).describe('control connections open at once; one more is answered "error: too many control connections" and closed, so idle clients cannot take the descriptors the app proxies need (default 256)'),
  })
  .strict()
  .default({});

const logSchema = z
  .object({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info')
      .describe('log level (default info); --log-level overrides'),
  })
  .strict()
  .default({});

const metricsSchema = z
  .object({
    listen: z
      .string()
      .nullable()
      .default(null)
      .refine((s) => s === null || parseHostPort(s, 0) !== null, 'listen must be host:port')
      .describe('host:port serving Prometheus text on /metrics and /healthz; port 0 lets the kernel pick one (agent status shows it) (default off)'),
  })
  .strict()
  .default({});

/** A proxy string in config: refused with the bad token named, as `proxy set` would. */
const proxySpecSchema = (def: string, description: string, allowAuto = false) =>
  z
    .string()
    .default(def)
    .superRefine((spec, ctx) => {
      try {
        parseProxySpec(spec, 'proxy string', allowAuto);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^proxy string: /, '') });
      }
    })
    .describe(description);

/** The selection policies built into the agent: the only ones the control socket and fleet documents may choose (a module is named by a config file only). */
export const BUILTIN_POLICIES = ['default', 'sharding'] as const;

const proxySchema = z
  .object({
    http_proxy: proxySpecSchema(
      'DIRECT',
      'upstream proxy string as CVMFS_HTTP_PROXY: ";" separates failover groups, "|" load-balanced members, DIRECT means no proxy, a missing scheme means http://, e.g. "http://a:3128|http://b:3128;DIRECT" (default DIRECT); DIRECT and auto are groups of their own, written once; "auto" stands for the proxies the PAC files of proxy.pac_urls resolve to, e.g. "auto;DIRECT"; `proxyctl proxy set` overrides it until `proxy reset`',
      true,
    ),
    fallback_proxy: proxySpecSchema('', 'fallback proxies appended as the last group(s), same syntax; when set, DIRECT is stripped from both lists (default none)'),
    policy: z
      .string()
      .min(1)
      .default('default')
      .describe('selection policy: "default" (random member, then the others shuffled), "sharding" (rendezvous hashing of the job\'s sha256 or URL), or a path (absolute, or relative to the agent\'s working directory) to a JS module exporting setPreferredProxy(job) and handleFailure(job, error) (default "default")'),
    min_healthy: z.number().int().min(1).default(1).describe('switch to the next group when fewer members than this stay healthy (default 1)'),
    reset_after: seconds(300, 'time on a later group after which the list returns to group 0 if it has a healthy member'),
    timeout: seconds(5, 'connect/response timeout through a proxy; also the health probe timeout'),
    timeout_direct: seconds(10, 'connect/response timeout without a proxy'),
    low_speed_limit: z.number().int().min(0).default(1024).describe('a transfer slower than this many bytes/s counts as slow: retried with backoff, the proxy is not blamed (default 1024)'),
    backoff_init: seconds(2, 'first retry backoff after a slow transfer (doubles each time)'),
    backoff_max: seconds(10, 'longest retry backoff'),
    slow_retries: z.number().int().min(0).default(5).describe('slow transfers in a row after which a job fails (default 5)'),
    health_check: z.boolean().default(true).describe('run the health checker on the active group (default true)'),
    healthy_check_rate: seconds(30, 'probe interval for healthy members'),
    unhealthy_check_rate: seconds(5, 'probe interval for unhealthy members'),
    health_check_url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'health_check_url must be http:// or https://')
      .nullable()
      .default(null)
      .describe('URL fetched through each proxy as its probe (2xx, 3xx or 404 = healthy); unset means a TCP connect to the proxy (default none)'),
    pac_urls: z
      .array(z.string().url().refine((u) => /^https?:\/\//.test(u), 'a PAC URL must be http:// or https://'))
      .default(['http://wpad/wpad.dat'])
      .describe('PAC files that "auto" in http_proxy is resolved from, tried in order, fetched without a proxy; the first that answers with a usable proxy wins, as CVMFS_PAC_URLS (default ["http://wpad/wpad.dat"], the cvmfs default)'),
    pac_query_url: z
      .string()
      .url()
      .nullable()
      .default(null)
      .describe('the URL a PAC file\'s FindProxyForURL is asked about, as cvmfs asks about its first server (default proxy.health_check_url, else "http://example.org/")'),
    pac_refresh: seconds(600, 'interval at which "auto" is resolved again from the PAC files (also on proxy rebalance); a failed refresh keeps the groups of the last one'),
  })
  .strict()
  .default({});

/** Bytes as a number or a string with a suffix (`16M`, `500K`): see src/config/units.ts. */
const byteSize = (def: number, min: number, description: string) =>
  z
    .union([z.number(), z.string()])
    .default(def)
    .superRefine((v, ctx) => {
      const n = typeof v === 'number' ? (Number.isSafeInteger(v) && v >= 0 ? v : null) : parseBytes(v);
      if (n === null) ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (bytes, or a number with K, M or G: 16M, 500K)` });
      else if (n < min) ctx.addIssue({ code: 'custom', message: `${v} is below the minimum of ${min} bytes` });
    })
    .transform((v) => (typeof v === 'number' ? v : parseBytes(v)!))
    .describe(description);

const downloadsSchema = z
  .object({
    dir: z.string().nullable().default(null).describe('directory relative destinations resolve under (default <state_dir>/downloads, created 0700)'),
    db_path: z.string().nullable().default(null).describe('SQLite file for the queue and the part journal (or, with store "sqlite", the parts themselves), relative to the state dir (default <state_dir>/state.db)'),
    store: z
      .enum(['file', 'sqlite'])
      .default('file')
      .describe('where the bytes of a job in progress live: "file" writes them once, at their offset, into <dest>.partial (0600) and journals each part (offset, length, sha256) in SQLite after fdatasync; "sqlite" keeps every part as a BLOB in the database, so the database is the only durable copy (twice the writes). Applies to jobs added from now on (default "file")'),
    part_size: byteSize(16 * 1024 * 1024, 4096, 'unit of durability and of parallel fetching: a part is fetched by one connection and made durable as a whole, so a crash loses at most the parts in flight; bytes or a size such as "16M" (default 16 MiB)'),
    max_active: z.number().int().min(1).max(64).default(1).describe("jobs downloading at once, as aria2's -j (default 1; formerly downloads.concurrency)"),
    connections: z.number().int().min(1).max(16).default(1).describe("connections per job, as aria2's -x: parts are fetched in parallel ranges spread over the job's mirrors and, under the default policy, over the members of the active proxy group; a server without Range support gets one connection from byte 0 (default 1); download add --connections overrides it"),
    max_retries: z.number().int().min(0).default(5).describe('failed attempts in a row without progress (origin 5xx, timeouts, rounds of the whole proxy list) after which a job fails, each after a backoff from proxy.backoff_init doubling up to proxy.backoff_max; an attempt that received bytes resets the count (default 5)'),
    idle_timeout: seconds(30, 'a response that delivers no byte for this long is aborted'),
    max_rate: byteSize(0, 0, 'global download rate limit in bytes/s, or a rate such as "1M" or "500K"; 0 = unlimited (default 0); jobs can have their own limit too (download add --max-rate); a reload applies a new value to running jobs at once'),
    ca_file: z.string().nullable().default(null).describe('PEM file of certificate authorities trusted for https downloads in addition to the built-in ones, relative to the state dir; download add --ca-file overrides it per job (default none)'),
    allow_absolute: z.boolean().default(false).describe('allow absolute destinations outside downloads.dir (default false)'),
  })
  .strict()
  .default({});

/**
 * Keys that existed once, with what replaced them: naming one is a config error
 * saying what to write instead (an ambiguous old name is not silently honoured).
 */
export const REMOVED_KEYS: Readonly<Record<string, string>> = {
  'downloads.concurrency': 'renamed to downloads.max_active (jobs downloading at once); connections per job are downloads.connections',
  'downloads.timeout': 'removed: the connect timeout of a download is proxy.timeout through a proxy and proxy.timeout_direct without one',
};

const forwardSchema = z
  .object({
    engine: z
      .enum(['auto', 'native', 'node'])
      .default('auto')
      .describe('data plane of the app proxies: native (the C++ addon: epoll threads, splice), node (the portable TypeScript relay), or auto: native when the addon loaded, else node with one warning naming why (default auto)'),
    threads: z.number().int().min(0).max(64).default(0).describe('event-loop threads of the native engine; 0 means one per CPU (default 0)'),
    bind: z.string().default('127.0.0.1').describe('listen address of apps that name no bind of their own (default 127.0.0.1); node-local, never taken from a fleet document'),
    shutdown_grace: z.number().min(0).default(5).describe('at agent stop, open app connections may finish for this long before both sides are closed; 0 closes them at once (seconds, default 5)'),
    half_closed_timeout: seconds(30, 'a relayed connection one side has half-closed (sent its FIN) is closed when no byte moved for this long, as HAProxy\'s timeout client-fin/server-fin'),
  })
  .strict()
  .default({});

const healthSchema = z
  .object({
    interval: seconds(5, 'active health check interval'),
    timeout: seconds(2, 'health check connect timeout'),
    rise: z.number().int().min(1).default(2).describe('successful checks that bring a target up (default 2)'),
    fall: z.number().int().min(1).default(3).describe('failed checks that take a target down (default 3)'),
  })
  .strict()
  .default({});

const appNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'name must be letters, digits, ".", "_" or "-"');

/** An app's listen port: 0 lets the kernel pick one (app info shows it as bound_port). */
const appPortSchema = z
  .number({ invalid_type_error: 'port must be a number' })
  .int('port must be an integer')
  .refine((p) => p >= 0 && p <= 65535, (p) => ({ message: `port ${p} out of range (0-65535)` }));

/** HAProxy's range: 0 takes no new connections (drain), 256 the most. */
export const targetWeightSchema = z
  .number({ invalid_type_error: 'weight must be a number' })
  .int('weight must be an integer')
  .refine((w) => w >= 0 && w <= 256, (w) => ({ message: `weight ${w} out of range (0-256)` }));

const TARGET_FORMS = 'a target is "host:port" or {"address": "host:port", "weight": 0-256}';

/**
 * A static target: `"host:port"`, or `{"address": "host:port", "weight": 3}`;
 * both normalise to the object. A malformed string is reported at the
 * element's path (`apps[0].targets[1]: malformed target …`), a bad field at
 * its own (`apps[0].targets[1].weight: …`).
 */
const targetSchema = z.preprocess(
  (v, ctx) => {
    if (typeof v === 'string' && parseHostPort(v) !== null) return { address: v };
    if (typeof v === 'string') ctx.addIssue({ code: 'custom', message: `malformed target "${v}" (expected host:port with port 1-65535)` });
    else if (v === null || typeof v !== 'object' || Array.isArray(v)) ctx.addIssue({ code: 'custom', message: TARGET_FORMS });
    else return v;
    // Reported above: a stand-in that parses, so the config's other checks still run and every problem is named at once.
    return { address: '0.0.0.0:1' };
  },
  z
    .object({
      address: hostPortSchema.describe('host:port (IPv6 as [::1]:port)'),
      weight: targetWeightSchema.default(1).describe('share of new connections under round-robin and random, relative to the other targets (HAProxy\'s 0-256); 0 drains the target (open connections continue). least-conn picks the lowest (active + 1) / weight; sharding gives each target a key share proportional to its weight (default 1)'),
    })
    .strict(),
);

export type TargetSpec = z.output<typeof targetSchema>;

export const appSchema = z
  .object({
    name: appNameSchema.describe('app name'),
    ports: z.array(appPortSchema).min(1, 'an app needs at least one port').describe('listen ports; 0 lets the kernel pick a free port (app info shows it as bound_port)'),
    // No default here: an app naming no bind listens on forward.bind (filled in by configSchema's transform).
    bind: z.string().min(1).optional().describe('listen address; an app naming none listens on forward.bind, the node\'s own'),
    targets: z
      .array(targetSchema)
      .default([])
      .describe('static targets: "host:port" or {"address": "host:port", "weight": N}, e.g. ["10.0.0.1:80", {"address": "10.0.0.2:80", "weight": 3}]. target add/remove/weight change them at run time (kept in the state DB until app reset); a service adds its instances'),
    balance: z.enum(['round-robin', 'random', 'least-conn', 'sharding']).default('round-robin').describe('load-balancing mode (default round-robin)'),
    protocol: z.enum(['tcp', 'foo']).default('tcp').describe('tcp, or foo for the Foo line protocol with message counters (default tcp)'),
    health: healthSchema.describe('active TCP health checks'),
    connect_timeout: seconds(3, 'connect timeout to a target before the next is tried'),
    idle_timeout: seconds(3600, 'a connection idle in both directions this long is closed'),
    max_connections: z.number().int().min(1).default(10000).describe('concurrent client connections per app (default 10000); also the listen backlog of its ports, as in HAProxy (the kernel caps it at net.core.somaxconn)'),
  })
  .strict();

const flyAppSchema = z
  .object({
    Name: appNameSchema.describe('app name (becomes apps[].name)'),
    Ports: z.array(appPortSchema).min(1, 'an app needs at least one port').describe('listen ports on forward.bind (become apps[].ports; 0 lets the kernel pick one)'),
    Targets: z.array(hostPortSchema).describe('targets as host:port (become apps[].targets); every other key takes its default'),
  })
  .passthrough();

const fooSchema = z
  .object({
    on_invalid: z.enum(['forward', 'close']).default('forward').describe('what a malformed Foo client line does: forward (default) or close'),
    max_line: z.number().int().min(64).default(65536).describe('longest Foo line in bytes; longer closes the connection (default 65536)'),
  })
  .strict()
  .default({});

export const serviceSchema = z
  .object({
    name: appNameSchema.describe('service name'),
    command: z
      .array(z.string())
      .min(1, 'command needs at least the program')
      .describe('argv of an instance, run without a shell; "--port N" is appended. Placeholders in every element: {proxyctl} (absolute path of this proxyctl\'s bin/run.js), {node} (the agent\'s node binary), {state_dir} (the agent\'s state directory)'),
    env: z.record(z.string()).default({}).describe('extra environment of an instance, on top of the agent\'s (PORT is set too, and PROXYCTL_AGENT_PID: the built-in data proxy stops when that process is gone); values take the command\'s placeholders'),
    cwd: z.string().nullable().default(null).describe('working directory of an instance, relative to the agent\'s; takes the command\'s placeholders (default the agent\'s working directory)'),
    app: z.string().describe('the app whose targets the instances become (its static targets stay)'),
    ready: z
      .object({
        kind: z.enum(['jsonrpc', 'http', 'tcp']).default('tcp').describe('jsonrpc: POST a JSON-RPC 2.0 "Ready" call to path, ready when it answers {"ready": true}; http: GET path answers 2xx; tcp: a connect succeeds (default tcp)'),
        path: z.string().startsWith('/', 'path must start with "/"').default('/rpc').describe('HTTP path of the jsonrpc and http probes, and of the service endpoint (default "/rpc")'),
      })
      .strict()
      .default({})
      .describe('readiness probe of a new instance'),
    ready_attempts: z.number().int().min(1).default(10).describe('readiness probes before a new instance is given up (default 10)'),
    ready_interval: seconds(1, 'pause between readiness probes'),
    drain: z.number().min(0).default(30).describe('time the previous version keeps serving beside the new one after it is ready, before it is taken out of the app and stopped (seconds, default 30)'),
    stop_timeout: seconds(10, 'time between SIGTERM and SIGKILL when an instance is stopped'),
    instances: z.number().int().min(1).max(64).default(1).describe('instances of the current version behind the app, as pm2\'s instances (default 1); `proxyctl service scale` changes it at run time until this key changes in the config'),
    max_surge: z.number().int().min(1).max(64).default(1).describe('new instances a rolling deploy or restart launches at once: it replaces the instances in batches of this many, each batch ready before the old ones it replaces are drained and stopped (default 1)'),
    restart: z
      .enum(['on-failure', 'always', 'never'])
      .default('on-failure')
      .describe('what happens when an instance exits on its own: on-failure restarts it after a crash (a signal, or an exit code other than 0), always after any exit, never leaves it down (default on-failure); the restarted instance rejoins the app once its readiness probe passes'),
    max_restarts: z.number().int().min(0).default(16).describe('restarts in a row after which a crashing instance is left down and the service degraded, as pm2\'s max_restarts; an instance ready for 30 s starts the count again, and so do service restart, service start and a deploy (default 16)'),
    restart_delay: z.number().min(0).default(0.1).describe('wait before the first restart of a crashed instance, doubled for each restart in a row up to 15 s, as pm2\'s exp_backoff_restart_delay (seconds, default 0.1)'),
  })
  .strict();

/** A fleet member's name: part of its etcd key (`<prefix>nodes/<node>`). */
const nodeNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'node must be 1-63 letters, digits, ".", "_" or "-"');

const clusterSchema = z
  .object({
    endpoints: z
      .array(z.string().url().refine((u) => /^https?:\/\//.test(u), 'endpoint must be an http:// or https:// URL'))
      .min(1, 'at least one etcd endpoint')
      .default(['http://127.0.0.1:2379'])
      .describe('etcd client URLs of the fleet\'s cluster, every member for fault tolerance (default ["http://127.0.0.1:2379"])'),
    prefix: z
      .string()
      .regex(/^\/(?:[^/\s]+\/)*$/, 'prefix must start and end with "/", e.g. "/proxyctl/"')
      .default('/proxyctl/')
      .describe('etcd key prefix of the fleet: config/, nodes/, deploy/, rollouts/ and locks/ live under it; agents with the same endpoints and prefix form one fleet (default "/proxyctl/")'),
    node: nodeNameSchema
      .optional()
      .describe('this agent\'s name in the fleet, unique among its members (default: the host name); several agents on one host need names of their own'),
    lease_ttl: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(10)
      .describe('seconds the node record outlives the agent: the agent keeps its lease alive every lease_ttl/3 s and refreshes its record every lease_ttl/2 s; a killed agent disappears from fleet status after this long, and so does the lock of a fleet deploy it coordinated (default 10; etcd may raise very short leases to its minimum)'),
    tls: z
      .object({
        ca: z.string().describe('PEM file of the CA that signed the etcd members\' certificates'),
        cert: z.string().optional().describe('PEM client certificate, when etcd asks for one (with key)'),
        key: z.string().optional().describe('PEM private key of cert'),
      })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), 'tls.cert and tls.key go together')
      .optional()
      .describe('TLS to etcd (https:// endpoints); paths relative to the agent\'s working directory'),
    auth: z
      .object({
        user: z.string().min(1).describe('etcd user name'),
        password_file: z.string().min(1).describe('file holding the password (its first line); kept out of the config so the config can be shared'),
      })
      .strict()
      .optional()
      .describe('etcd password authentication'),
  })
  .strict();

export const configSchema = z
  .object({
    control: controlSchema.describe('the control socket'),
    log: logSchema.describe('logging'),
    metrics: metricsSchema.describe('Prometheus exposition'),
    proxy: proxySchema.describe('upstream proxy list'),
    downloads: downloadsSchema.describe('the download queue'),
    apps: z.array(appSchema).default([]).describe('app proxies'),
    Apps: z.array(flyAppSchema).optional().describe('Fly.io form of apps: [{"Name","Ports","Targets"}], normalised into apps'),
    forward: forwardSchema.describe('the app proxies\' data plane and connection lifecycle'),
    foo: fooSchema.describe('the Foo line protocol mode of app proxies'),
    services: z.array(serviceSchema).default([]).describe('backend services deployed behind apps'),
    cluster: clusterSchema
      .optional()
      .describe('fleet mode: join the fleet kept in etcd (node record, shared proxy list, apps and services, fleet deploys); without this key the agent runs alone and no fleet code runs. See FLEET below for the keys a fleet document may set'),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const all = [...cfg.apps.map((a) => ({ name: a.name, ports: a.ports, key: 'apps' })), ...(cfg.Apps ?? []).map((a) => ({ name: a.Name, ports: a.Ports, key: 'Apps' }))];
    const seenPort = new Map<number, string>();
    const seenName = new Set<string>();
    all.forEach((app, i) => {
      const index = app.key === 'apps' ? i : i - cfg.apps.length;
      if (seenName.has(app.name)) ctx.addIssue({ code: 'custom', path: [app.key, index, app.key === 'apps' ? 'name' : 'Name'], message: `duplicate app name "${app.name}"` });
      seenName.add(app.name);
      app.ports.forEach((port, j) => {
        if (port === 0) return; // every 0 is a port of its own
        const owner = seenPort.get(port);
        if (owner !== undefined) ctx.addIssue({ code: 'custom', path: [app.key, index, app.key === 'apps' ? 'ports' : 'Ports', j], message: `port ${port} already used by app "${owner}"` });
        else seenPort.set(port, app.name);
      });
    });
    const serviceNames = new Set<string>();
    cfg.services.forEach((svc, i) => {
      if (serviceNames.has(svc.name)) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: `duplicate service name "${svc.name}"` });
      serviceNames.add(svc.name);
      if (!seenName.has(svc.app)) ctx.addIssue({ code: 'custom', path: ['services', i, 'app'], message: `unknown app "${svc.app}"` });
    });
  })
  .transform(({ Apps, cluster, ...cfg }) => ({
    ...cfg,
    // forward.bind is the node-local default listen address: a fleet app names no bind and each agent
    // serves it on its own (127.0.0.2, 127.0.0.3, … for several agents on one host).
    apps: [...cfg.apps, ...(Apps ?? []).map((a) => appSchema.parse({ name: a.Name, ports: a.Ports, targets: a.Targets }))].map(({ bind, ...a }) => ({ ...a, bind: bind ?? cfg.forward.bind })),
    cluster: cluster && { ...cluster, node: cluster.node ?? hostname() },
  }));

export type Config = z.output<typeof configSchema>;
export type AppConfig = Config['apps'][number];
export type ServiceConfig = Config['services'][number];
export type ProxyConfig = Config['proxy'];
export type DownloadsConfig = Config['downloads'];
export type ForwardConfig = Config['forward'];
export type ClusterConfig = NonNullable<Config['cluster']>;
