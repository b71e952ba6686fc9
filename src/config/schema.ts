import { z } from 'zod';
import { parseProxySpec } from '../upstream/proxy-spec.js';
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

export function parseHostPort(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
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
      .refine((s) => s === null || parseHostPort(s) !== null, 'listen must be host:port')
      .describe('host:port serving Prometheus text on /metrics and /healthz (default off)'),
  })
  .strict()
  .default({});

/** A proxy string in config: refused with the bad token named, as `proxy set` would. */
const proxySpecSchema = (def: string, description: string) =>
  z
    .string()
    .default(def)
    .superRefine((spec, ctx) => {
      try {
        parseProxySpec(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^proxy string: /, '') });
      }
    })
    .describe(description);

const proxySchema = z
  .object({
    http_proxy: proxySpecSchema(
      'DIRECT',
      'upstream proxy string as CVMFS_HTTP_PROXY: ";" separates failover groups, "|" load-balanced members, DIRECT means no proxy, a missing scheme means http://, e.g. "http://a:3128|http://b:3128;DIRECT" (default DIRECT); `proxyctl proxy set` overrides it until `proxy reset`',
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
    max_rate: byteSize(0, 0, 'global download rate limit in bytes/s, or a rate such as "1M" or "500K"; 0 = unlimited (default 0); jobs can have their own limit too (download add --max-rate)'),
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

export const appSchema = z
  .object({
    name: appNameSchema.describe('app name'),
    ports: z.array(portSchema).min(1, 'an app needs at least one port').describe('listen ports'),
    bind: z.string().default('127.0.0.1').describe('listen address (default 127.0.0.1)'),
    targets: z.array(hostPortSchema).default([]).describe('static targets as host:port (a service may add more at run time)'),
    balance: z.enum(['round-robin', 'random', 'least-conn', 'sharding']).default('round-robin').describe('load-balancing mode (default round-robin)'),
    protocol: z.enum(['tcp', 'foo']).default('tcp').describe('tcp, or foo for the Foo line protocol with message counters (default tcp)'),
    health: healthSchema.describe('active TCP health checks'),
    connect_timeout: seconds(3, 'connect timeout to a target before the next is tried'),
    idle_timeout: seconds(3600, 'a connection idle in both directions this long is closed'),
    max_connections: z.number().int().min(1).default(10000).describe('concurrent client connections per app (default 10000)'),
  })
  .strict();

const flyAppSchema = z
  .object({
    Name: appNameSchema.describe('app name (becomes apps[].name)'),
    Ports: z.array(portSchema).min(1, 'an app needs at least one port').describe('listen ports on 127.0.0.1 (become apps[].ports)'),
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
  .transform(({ Apps, ...cfg }) => ({
    ...cfg,
    apps: [...cfg.apps, ...(Apps ?? []).map((a) => appSchema.parse({ name: a.Name, ports: a.Ports, targets: a.Targets }))],
  }));

export type Config = z.output<typeof configSchema>;
export type AppConfig = Config['apps'][number];
export type ServiceConfig = Config['services'][number];
export type ProxyConfig = Config['proxy'];
export type DownloadsConfig = Config['downloads'];
export type ForwardConfig = Config['forward'];
