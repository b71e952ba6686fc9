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

export function renderProxyctl1({ manifest, errorCodes, rpcCodes, exitCodes }) {
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
  out.push('.TP', '\\fBtalk\\fR', esc("A line not starting with '{' is one talk command, e.g. 'proxy info' or 'download pause 3'. The reply is plain text; state-changing commands answer OK; errors start with 'error: '. The agent closes the connection after the reply, as cvmfs_talk. 'help' lists the commands. Example: printf 'pid\\n' | socat - UNIX-CONNECT:$HOME/.local/state/proxyctl/agent.sock"));
  out.push('.TP', '\\fBJSON\\-RPC 2.0\\fR', esc('A line starting with \'{\' is a JSON-RPC 2.0 request; methods are dotted (agent.status, proxy.set, download.add, …). One reply line per request (none for notifications); the connection stays open.'));
  out.push('.PP', esc('Lines longer than control.max_line, invalid UTF-8, unknown commands and clients idle longer than control.idle_timeout get an error or are closed; the agent keeps serving everyone else.'));
  out.push('.SH SIGNALS');
  out.push('.TP', '\\fBSIGTERM\\fR, \\fBSIGINT\\fR', esc('graceful shutdown: the socket file is removed, state flushed, exit 0.'));
  out.push('.TP', '\\fBSIGHUP\\fR', esc('reload the config file; an invalid file is logged with every problem and the running config stays.'));
  out.push('.TP', '\\fBSIGUSR1\\fR', esc('write the stats JSON object (as proxyctl stats --json) to standard output.'));
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
  out.push('.TP', '\\fI<state dir>/agent.log\\fR', esc('the log of an agent started with --detach'));
  out.push('.SH SEE ALSO', 'proxyctl.conf(5), socat(1)');
  return out.join('\n') + '\n';
}

/** Walks the zod config schema into rows of {key, type, default, description}. */
export function configRows(schema) {
  const rows = [];
  const unwrap = (s) => {
    let def;
    let description = s.description;
    let nullable = false;
    for (;;) {
      const t = s._def.typeName;
      if (t === 'ZodDefault') def = s._def.defaultValue();
      else if (t === 'ZodNullable') nullable = true;
      else if (t !== 'ZodOptional' && t !== 'ZodEffects') break;
      s = t === 'ZodEffects' ? s._def.schema : s._def.innerType;
      description ??= s.description;
    }
    return { s, def, description, nullable };
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
      const { s, def, description, nullable } = unwrap(raw);
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
        rows.push({ key: path, type: typeName(s) + (nullable ? ' | null' : ''), default: def, description });
      }
    }
  };
  walk(unwrap(schema).s, '');
  return rows;
}

export function renderConf5({ version, rows }) {
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
    const def = r.default === undefined ? 'required' : `default ${JSON.stringify(r.default)}`;
    // The default is printed from the schema itself; drop the copy some descriptions carry.
    const text = (r.description ?? '').replace(/,? ?default [^)]*\)$/, ')').replace(/ \(\)$/, '').replace(/\s*\(default [^)]*\)/, '');
    out.push('.TP', `\\fB${esc(r.key)}\\fR (${esc(r.type)}; ${esc(def)})`, esc(text));
  }
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
  return {
    'proxyctl.1': renderProxyctl1({ manifest, errorCodes: ERROR_CODES, rpcCodes: RPC_ERROR_CODES, exitCodes: EXIT_CODES }),
    'proxyctl.conf.5': renderConf5({ version: manifest.version, rows: configRows(configSchema) }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const pages = await renderAll();
  for (const [name, text] of Object.entries(pages)) {
    writeFileSync(join(root, 'man', name), text);
    process.stdout.write(`wrote man/${name}\n`);
  }
}
