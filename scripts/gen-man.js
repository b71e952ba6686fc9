#!/usr/bin/env node
/**
 * Generates man/proxyctl.1 and man/proxyctl.conf.5 from what the code declares:
 * the oclif manifest (commands, flags, args, examples), the config schema
 * (keys, defaults, .describe() texts), and the error and exit code tables.
 * Run after `npm run build`: `npm run man`. test/unit/docs/man.test.ts fails
 * when the committed pages differ from what this renders.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const DATE = '2026';

/** roff-escapes text: backslashes, leading dots/quotes, and hyphens in flags. */
function esc(s) {
  return String(s)
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

function commandName(id) {
  return `proxyctl ${id.replaceAll(':', ' ')}`;
}

function flagUsage(name, f) {
  const long = `\\-\\-${esc(name)}`;
  const short = f.char ? `\\-${f.char}, ` : '';
  const value = f.type === 'option' ? (f.options ? ` ${f.options.join('|')}` : ' VALUE') : '';
  return `\\fB${short}${long}\\fR${esc(value)}`;
}

function flagText(f) {
  let text = f.summary ?? f.description ?? '';
  if (f.default !== undefined && !/\[default:/.test(text)) text += ` [default: ${f.default}]`;
  if (f.env && !text.includes(`$${f.env}`)) text += ` [env: ${f.env}]`;
  return text;
}

/** The EVENTS section: every topic of src/control/events.ts (TOPICS) and its fields. */
function eventsSection(topics, limits) {
  const out = ['.SH EVENTS'];
  out.push(
    esc(
      `A JSON-RPC connection subscribes with {"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"topics":["deploy","service.exit"]}} (topics or families; none or [] means all; calling it again replaces the topics) and then receives, between its replies, notifications {"jsonrpc":"2.0","method":"event","params":{"topic":"deploy.phase","time":"2026-01-02T03:04:05.678Z","seq":7,...fields}} until events.unsubscribe or the connection closes (a subscriber is not closed for being idle; its FIN ends it like any connection). seq counts the agent's events from 1. A subscriber that does not read is not buffered for: while more than ${limits.maxUnsent / 1048576} MiB waits in its socket its events are dropped and counted (events.dropped in the stats, proxyctl_events_dropped in Prometheus), and once it has read them it first gets {"jsonrpc":"2.0","method":"lost","params":{"dropped":N,"last_seq":S,"time":"…"}}. events.topics lists the topics; talk cannot subscribe (it closes after one reply): use proxyctl events. The topics and their fields:`,
    ),
  );
  for (const [topic, spec] of Object.entries(topics)) out.push('.TP', `\\fB${esc(topic)}\\fR`, esc(`${spec.summary}. Fields: ${spec.fields}.`));
  return out;
}

export function renderProxyctl1({ manifest, errorCodes, rpcCodes, exitCodes, limits, topics }) {
  const ids = Object.keys(manifest.commands)
    .filter((id) => !manifest.commands[id].hidden && manifest.commands[id].pluginName === 'proxyctl')
    .sort();
  const out = [];
  out.push(`.TH PROXYCTL 1 "${DATE}" "proxyctl ${manifest.version}" "User Commands"`);
  out.push('.SH NAME', 'proxyctl \\- single\\-host traffic agent and its admin CLI');
  out.push('.SH SYNOPSIS', '.B proxyctl', '.I COMMAND', '[\\fIFLAGS\\fR] [\\fIARGS\\fR]');
  out.push('.SH DESCRIPTION');
  out.push(esc(`proxyctl runs a long-lived agent (proxyctl agent start) that keeps an upstream proxy list with failover and health checks, a crash-safe download queue through it, TCP and Foo app proxies over healthy targets, and services deployed behind them with rolling releases. Every other command is a thin client of the agent's Unix control socket.`));
  out.push('.PP', esc('Commands with --json print exactly what the control socket returned. Colour is used only on a terminal and never when NO_COLOR is set.'));
  out.push('.SH COMMANDS');
  for (const id of ids) {
    const c = manifest.commands[id];
    const args = Object.values(c.args ?? {}).map((a) => (a.required ? a.name.toUpperCase() : `[${a.name.toUpperCase()}]`));
    out.push(`.SS "${commandName(id)}${args.length ? ' ' + args.join(' ') : ''}"`);
    out.push(esc(c.summary ?? ''));
    if (c.description && c.description !== c.summary) out.push('.PP', esc(c.description));
    for (const a of Object.values(c.args ?? {})) {
      out.push('.TP', `\\fI${esc(a.name.toUpperCase())}\\fR`, esc(a.description ?? ''));
    }
    // --socket/--state-dir are global flags on client commands (own section below); agent start owns them.
    const skip = id === 'agent:start' ? ['json'] : ['socket', 'state-dir', 'json'];
    const flags = Object.entries(c.flags ?? {}).filter(([name, f]) => !f.hidden && !skip.includes(name));
    for (const [name, f] of flags) out.push('.TP', flagUsage(name, f), esc(flagText(f)));
    if (c.flags?.json) out.push('.TP', '\\fB\\-\\-json\\fR', 'Print the result as JSON.');
    const examples = (c.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command)).map((e) => e.replaceAll('<%= config.bin %>', 'proxyctl').replaceAll('<%= command.id %>', id.replaceAll(':', ' ')));
    if (examples.length) {
      out.push('.PP', 'Examples:', '.RS', '.nf');
      for (const e of examples) out.push(esc(e));
      out.push('.fi', '.RE');
    }
  }
  // Commands of the bundled oclif plugins (not in our manifest).
  out.push('.SS "proxyctl help [COMMAND]"', esc('Show help for proxyctl or for one command (the same as COMMAND --help).'));
  out.push('.SS "proxyctl autocomplete [SHELL]"', esc('Print instructions to set up shell completion for bash, zsh or powershell; --refresh-cache rebuilds the completion cache.'));
  out.push('.SH GLOBAL FLAGS', esc('Every command that talks to the agent takes:'));
  out.push('.TP', '\\fB\\-\\-socket\\fR PATH', esc('control socket of the agent [env: PROXYCTL_SOCKET; default <state dir>/agent.sock]'));
  out.push('.TP', '\\fB\\-\\-state\\-dir\\fR DIR', esc('state directory used to locate the socket [env: PROXYCTL_STATE_DIR; default $XDG_STATE_HOME/proxyctl, else ~/.local/state/proxyctl]'));
  out.push('.TP', '\\fB\\-h\\fR, \\fB\\-\\-help\\fR', 'Show help for the command.');
  out.push('.SH CONTROL SOCKET');
  out.push(esc('The agent listens on a Unix stream socket (mode 0600 by default, see control.mode in proxyctl.conf(5)). Each line chooses its dialect by its first byte.'));
  out.push('.TP', '\\fBtalk\\fR', esc("A line not starting with '{' or '[' is one talk command, e.g. 'proxy info' or 'download pause 3'. The reply is plain text; state-changing commands answer OK; errors start with 'error: '. The agent closes the connection after the reply, as cvmfs_talk; a client may shut down its sending side right after the line (as socat does at the end of its input) and still gets the whole reply, and a last line without its newline is answered too. 'help' lists the commands. Example: printf 'reload\\n' | socat - UNIX-CONNECT:$HOME/.local/state/proxyctl/agent.sock"));
  out.push('.TP', '\\fBJSON\\-RPC 2.0\\fR', esc(`A line starting with '{' is a JSON-RPC 2.0 request, one starting with '[' a batch of them; methods are dotted (agent.status, proxy.set, download.add, …). One reply line per request (none for notifications), a batch gets one array (nothing when it held only notifications; an empty batch, or one of more than ${limits.maxBatch} requests, is -32600). The id must be a string, a number or null (anything else is -32600); a number id is echoed exactly as sent (1e400, 1.0 and big integers included). The connection stays open for more requests. Requests on one connection run concurrently and are answered in the order they came; a talk line after JSON-RPC requests is answered after them, and ends the connection.`));
  out.push('.PP', esc(`Lines longer than control.max_line, invalid UTF-8, unknown commands and clients idle longer than control.idle_timeout get an error or are closed; the agent keeps serving everyone else. A line over the limit is answered with its error before the connection closes, and what the client still sends is read and dropped, so it can read the error. A connection whose client does not read its replies stops being read while more than ${limits.maxUnsent / 1048576} MiB of replies waits for it, and at most ${limits.maxInFlight} of its requests (a batch counts as its length) run or wait to be written at once; more than control.max_connections connections at once are refused with an error line.`));
  out.push(...eventsSection(topics, limits));
  out.push('.SH SIGNALS');
  out.push('.TP', '\\fBSIGTERM\\fR, \\fBSIGINT\\fR', esc('graceful shutdown, exit 0, within forward.shutdown_grace + the longest services[].stop_timeout + 2 s: new control requests are refused at once, app connections get forward.shutdown_grace to finish, services are stopped, state is flushed; a part that has not closed by the deadline is logged and abandoned (service instances are SIGKILLed). The socket file and the state dir lock are released last, so no second agent starts beside one still stopping. agent stop --timeout N also tells the agent: its subsystems then get no more than N - 1.5 s, so that it is gone within N s.'));
  out.push('.TP', '\\fBSIGHUP\\fR', esc('reload the config file; an invalid file is logged with every problem and the running config stays.'));
  out.push('.TP', '\\fBSIGUSR1\\fR', esc('write the stats JSON object (as proxyctl stats --json) to standard output.'));
  out.push('.SH FLEET');
  out.push(esc('Agents whose config has a cluster key (proxyctl.conf(5)) form a fleet in etcd: each registers a node record under a lease it keeps alive, applies the fleet documents (proxy list, apps, services) over its local config, and runs its share of fleet deploys. proxyctl fleet status, fleet get, fleet diff, fleet push and fleet events act on the fleet through the agent they talk to, as do proxy set, proxy fallback, proxy policy and deploy with --fleet. A fleet deploy is coordinated by that agent, which holds the service\'s lock in etcd under its own lease: a coordinator that dies frees it within cluster.lease_ttl seconds. While etcd is unreachable every agent keeps serving the fleet config it last applied, and catches up by revision when etcd is back.'));
  out.push('.PP', esc('Keys under cluster.prefix: config/proxy, config/apps, config/services and config/meta (the fleet documents and who wrote them), nodes/NODE (node records), locks/deploy/SERVICE, rollouts/SERVICE, deploy/NODE/SERVICE and deploy-status/ROLLOUT/NODE (fleet deploys).'));
  out.push('.SH EXIT STATUS');
  for (const [code, text] of exitCodes) out.push('.TP', `\\fB${code}\\fR`, esc(text));
  out.push('.SH ERROR CODES');
  out.push(esc('JSON-RPC errors carry a numeric code and, in error.data.code, a stable proxyctl code. Numeric codes:'));
  for (const [code, text] of rpcCodes) out.push('.TP', `\\fB${esc(code)}\\fR`, esc(text));
  out.push('.PP', esc('proxyctl codes (also in the CLI\'s --json error output):'));
  for (const [code, text] of Object.entries(errorCodes)) out.push('.TP', `\\fB${esc(code)}\\fR`, esc(text));
  out.push('.SH ENVIRONMENT');
  out.push('.TP', '\\fBPROXYCTL_SOCKET\\fR', esc('control socket path (as --socket).'));
  out.push('.TP', '\\fBPROXYCTL_STATE_DIR\\fR', esc('state directory (as --state-dir).'));
  out.push('.TP', '\\fBPROXYCTL_CONFIG\\fR', esc('config file of agent start (as --config).'));
  out.push('.TP', '\\fBXDG_STATE_HOME\\fR', esc('parent of the default state directory.'));
  out.push('.TP', '\\fBNO_COLOR\\fR', esc('when set, no colour in any output.'));
  out.push('.SH FILES');
  out.push('.TP', '\\fI<state dir>/agent.sock\\fR', 'the control socket');
  out.push('.TP', '\\fI<state dir>/state.db\\fR', esc('SQLite state: run-time settings, the download queue and partial parts'));
  out.push('.TP', '\\fI<state dir>/agent.log\\fR', esc('the log of an agent started with --detach (mode 0600)'));
  out.push('.TP', '\\fI<state dir>/agent.lock\\fR', esc("one agent per state dir: the running agent holds an exclusive lock on this file (SQLite's locking_mode=EXCLUSIVE, an fcntl lock the kernel drops when the process ends, kill -9 included); a second agent on the state dir exits 1 naming the first one's pid and socket"));
  out.push('.TP', '\\fI<state dir>/agent.pid\\fR', esc("the pid and the socket path of the agent holding the lock, one per line"));
  out.push('.PP', esc('The state dir is created 0700; an existing one that group or others can enter is changed to 0700 at start (with a warning; only a warning when another user owns it). state.db, its -wal and -shm files, the lock and the log are created 0600.'));
  out.push(...securitySection());
  out.push('.SH SEE ALSO', 'proxyctl.conf(5), socat(1)');
  return out.join('\n') + '\n';
}

/** The SECURITY section of both pages: who can do what through the agent. */
function securitySection() {
  return [
    '.SH SECURITY',
    esc("Access to the control socket is full control of the agent: whoever can connect can stop it, change its proxies, queue downloads into its downloads directory and deploy its services. Give it only to those you would give the agent's user account. The socket is 0600 in a 0700 state dir by default; control.mode and control.group widen it on purpose."),
    '.PP',
    esc("Services run with the agent's privileges: services[].command is run as the agent's user, with its environment. A config file is therefore as powerful as the agent's account; keep it writable only by that user."),
    '.PP',
    esc("A proxy selection policy module (proxy.policy set to a path) is code the agent runs. It can only be named in the config file: over the socket, proxy policy takes the built-in names default and sharding only, and a module path saved by an older agent is dropped at start. The agent also refuses a module file, or a directory above it, that is owned by anyone but its own user or root, or that group or others can write (a sticky directory such as /tmp excepted)."),
  ];
}

/** Walks the zod config schema into rows of {key, type, default, description}. */
export function configRows(schema) {
  const rows = [];
  const unwrap = (s) => {
    let def;
    let description = s.description;
    let nullable = false;
    let optional = false;
    for (;;) {
      const t = s._def.typeName;
      if (t === 'ZodDefault') def = s._def.defaultValue();
      else if (t === 'ZodNullable') nullable = true;
      else if (t === 'ZodOptional') optional = true;
      else if (t !== 'ZodOptional' && t !== 'ZodEffects') break;
      s = t === 'ZodEffects' ? s._def.schema : s._def.innerType;
      description ??= s.description;
    }
    return { s, def, description, nullable, optional };
  };
  const typeName = (s) => {
    switch (s._def.typeName) {
      case 'ZodString':
        return 'string';
      case 'ZodNumber':
        return s._def.checks.some((c) => c.kind === 'int') ? 'integer' : 'number';
      case 'ZodBoolean':
        return 'boolean';
      case 'ZodEnum':
        return s._def.values.join(' | ');
      case 'ZodRecord':
        return 'object of strings';
      case 'ZodArray':
        return `array of ${typeName(unwrap(s._def.type).s)}`;
      case 'ZodUnion':
        return s._def.options.map((o) => typeName(unwrap(o).s)).join(' | ');
      case 'ZodObject':
        return 'object';
      default:
        return s._def.typeName.replace(/^Zod/, '').toLowerCase();
    }
  };
  const walk = (obj, prefix) => {
    for (const [key, raw] of Object.entries(obj.shape)) {
      const { s, def, description, nullable, optional } = unwrap(raw);
      const path = prefix + key;
      const t = s._def.typeName;
      const isObjArray = t === 'ZodArray' && unwrap(s._def.type).s._def.typeName === 'ZodObject';
      if (t === 'ZodObject') {
        rows.push({ key: path, type: 'object', default: undefined, description, section: true });
        walk(s, `${path}.`);
      } else if (isObjArray) {
        rows.push({ key: path, type: 'array of objects', default: def, description, section: true });
        walk(unwrap(s._def.type).s, `${path}[].`);
      } else {
        rows.push({ key: path, type: typeName(s) + (nullable ? ' | null' : ''), default: def, description, optional });
      }
    }
  };
  walk(unwrap(schema).s, '');
  return rows;
}

export function renderConf5({ version, rows, fleetKeys }) {
  const out = [];
  out.push(`.TH PROXYCTL.CONF 5 "${DATE}" "proxyctl ${version}" "File Formats"`);
  out.push('.SH NAME', 'proxyctl.conf \\- configuration file of the proxyctl agent');
  out.push('.SH DESCRIPTION');
  out.push(esc('A JSON object, given to proxyctl agent start --config FILE (or $PROXYCTL_CONFIG). Every key is optional: the agent runs with no file at all on the defaults below. The file is validated at start and on reload (SIGHUP, proxyctl agent reload); every problem is reported with its path, e.g. apps[2].ports[0]: port 70000 out of range, and a bad reload keeps the running config. Unknown keys are errors. Durations are seconds (fractions allowed); sizes are bytes.'));
  out.push('.PP', esc('Run-time changes made over the control socket (proxy set, proxy fallback, proxy policy) are kept in the state DB and win over the file until proxy reset.'));
  out.push('.SH KEYS');
  for (const r of rows) {
    if (r.section) {
      out.push(`.SS "${esc(r.key)}"`);
      if (r.description) out.push(esc(r.description));
      continue;
    }
    const def = r.default !== undefined ? `default ${JSON.stringify(r.default)}` : r.optional ? 'optional' : 'required';
    // The default is printed from the schema itself; drop the copy some descriptions carry.
    const text = (r.description ?? '').replace(/,? ?default [^)]*\)$/, ')').replace(/ \(\)$/, '').replace(/\s*\(default [^)]*\)/, '');
    out.push('.TP', `\\fB${esc(r.key)}\\fR (${esc(r.type)}; ${esc(def)})`, esc(text));
  }
  out.push('.SH FLEET');
  out.push(esc('With a cluster key the agent is a node of a fleet kept in etcd. A fleet file (proxyctl fleet push FILE) is a config file holding only the fleet-wide keys below; the agent runs its local file overlaid by the fleet documents, validated as one config, and applies each new fleet revision through the same hot reload as proxyctl agent reload. A revision a node cannot apply (say, a fleet app on a port its local file uses) leaves that node on its running config, with the error in proxyctl fleet status. The last applied fleet config is kept in state.db, so an agent restarted while etcd is unreachable serves it.'));
  out.push('.PP', esc('Fleet-wide keys, and how each overlays the local file:'));
  for (const [key, how] of fleetKeys) out.push('.TP', `\\fB${esc(key)}\\fR`, esc(how));
  out.push('.PP', esc('Every other key is node-local and refused in a fleet file: notably the state directory and control socket (command-line flags), forward.bind (so agents on one host serve the same fleet app ports on 127.0.0.2, 127.0.0.3, …), the cluster key itself, and the other proxy.* settings. A run-time proxy set / proxy fallback / proxy policy on one node (without --fleet) wins over the fleet on that node until proxy reset there.'));
  out.push('.SH FLY FORM');
  out.push(esc('The Fly.io form {"Apps":[{"Name":"echo","Ports":[4001,4002],"Targets":["127.0.0.1:5001"]}]} is accepted as is and normalised into apps with the defaults above; a port used twice across apps (in either form) is an error.'));
  out.push('.SH EXAMPLE', '.nf');
  out.push(esc(JSON.stringify({
    proxy: { http_proxy: 'http://127.0.0.1:3128|http://127.0.0.1:3129;DIRECT', health_check_url: 'http://127.0.0.1:8000/' },
    downloads: { max_active: 2, connections: 4, max_rate: '10M' },
    apps: [{ name: 'echo', ports: [4001], targets: ['127.0.0.1:5001', '127.0.0.1:5002'], balance: 'least-conn' }],
    metrics: { listen: '127.0.0.1:9464' },
  }, null, 2)));
  out.push('.fi');
  out.push(...securitySection());
  out.push('.SH SEE ALSO', 'proxyctl(1)');
  return out.join('\n') + '\n';
}

export async function renderAll() {
  const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
  const manifest = JSON.parse(readFileSync(join(root, 'oclif.manifest.json'), 'utf8'));
  const { ERROR_CODES } = await import(dist('src/errors.js'));
  const { RPC_ERROR_CODES } = await import(dist('src/control/jsonrpc.js'));
  const { EXIT_CODES } = await import(dist('src/cli/exit-codes.js'));
  const { configSchema } = await import(dist('src/config/schema.js'));
  const { MAX_BATCH, MAX_IN_FLIGHT, MAX_UNSENT_BYTES } = await import(dist('src/control/server.js'));
  const { TOPICS } = await import(dist('src/control/events.js'));
  const limits = { maxBatch: MAX_BATCH, maxInFlight: MAX_IN_FLIGHT, maxUnsent: MAX_UNSENT_BYTES };
  const { FLEET_WIDE_KEYS } = await import(dist('src/fleet/documents.js'));
  return {
    'proxyctl.1': renderProxyctl1({ manifest, errorCodes: ERROR_CODES, rpcCodes: RPC_ERROR_CODES, exitCodes: EXIT_CODES, limits, topics: TOPICS }),
    'proxyctl.conf.5': renderConf5({ version: manifest.version, rows: configRows(configSchema), fleetKeys: FLEET_WIDE_KEYS }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const pages = await renderAll();
  for (const [name, text] of Object.entries(pages)) {
    writeFileSync(join(root, 'man', name), text);
    process.stdout.write(`wrote man/${name}\n`);
  }
}
