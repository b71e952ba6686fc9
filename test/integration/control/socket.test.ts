import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, runCli, startAgent, talkLine, tempDir } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';

afterEach(cleanupAgents);

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads from a raw connection until it closes. */
function readAll(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', () => undefined);
    s.once('close', () => resolve(out));
  });
}

/** Sends JSON-RPC lines on one connection and collects `n` reply lines. */
async function rpcLines(path: string, lines: string[], n = lines.length): Promise<Array<Record<string, any>>> {
  const s = await connect(path);
  s.setEncoding('utf8');
  let buf = '';
  const replies: Array<Record<string, any>> = [];
  const done = new Promise<void>((resolve) => {
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        replies.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
        if (replies.length === n) resolve();
      }
    });
  });
  s.write(lines.join('\n') + '\n');
  await done;
  s.destroy();
  return replies;
}

describe('control socket: talk dialect', () => {
  it('answers each built-in command in plain text and closes the connection', async () => {
    const agent = await startAgent();
    expect(await agent.talk('pid')).toBe(`${agent.pid}\n`);
    expect(await agent.talk('version')).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(await agent.talk('uptime')).toMatch(/^\d+\n$/);
    const status = await agent.talk('status');
    expect(status).toContain(`pid: ${agent.pid}`);
    expect(status).toContain(`socket: ${agent.socket}`);
    const help = await agent.talk('help');
    for (const cmd of ['help', 'version', 'pid', 'uptime', 'status', 'reload', 'stats', 'shutdown']) expect(help).toMatch(new RegExp(`^${cmd}\\b`, 'm'));
    expect(JSON.parse(await agent.talk('stats')).control.connections).toBeGreaterThan(0);
    expect(await agent.talk('reload')).toBe('OK\n');
  });

  it('starts replies to unknown commands and bad arguments with "error: "', async () => {
    const agent = await startAgent();
    expect(await agent.talk('frobnicate')).toBe(`error: unknown command "frobnicate"; try 'help'\n`);
    expect(await agent.talk('proxy frob')).toMatch(/^error: unknown command "proxy frob" \(proxy commands: proxy fallback, .*proxy info, /);
    expect(await agent.talk('pid 3')).toMatch(/^error: pid: takes no arguments/);
    expect(await agent.talk('')).toMatch(/^error: empty command/);
  });

  it('refuses invalid UTF-8 and keeps serving', async () => {
    const agent = await startAgent();
    const s = await connect(agent.socket);
    const reply = readAll(s);
    s.write(Buffer.from([0x70, 0x69, 0xff, 0xfe, 0x64, 0x0a]));
    expect(await reply).toBe('error: control line is not valid UTF-8\n');
    const rpc = await rpcLines(agent.socket, ['{"jsonrpc":"2.0","id":1,"method":"agent.pid"}']);
    expect(rpc[0]!.result).toBe(agent.pid);
  });

  it('refuses a 1 MiB line with an error and stays alive', async () => {
    const agent = await startAgent();
    const s = await connect(agent.socket);
    const reply = readAll(s);
    s.write('x'.repeat(1024 * 1024) + '\n');
    expect(await reply).toBe('error: control line longer than 65536 bytes\n');
    const big = await connect(agent.socket);
    const rpcReply = readAll(big);
    big.write('{"jsonrpc":"2.0","id":1,"method":"agent.pid","params":{"pad":"' + 'y'.repeat(200_000) + '"}}\n');
    const parsed = JSON.parse((await rpcReply).trim());
    expect(parsed.error.code).toBe(-32600);
    expect(parsed.error.data.code).toBe('PXC_ERR_LINE_TOO_LONG');
    expect(await agent.talk('pid')).toBe(`${agent.pid}\n`);
  });

  it('closes a client that sends half a line and goes silent, while others are served', async () => {
    const agent = await startAgent({ config: { control: { idle_timeout: 0.5 } } });
    const silent = await connect(agent.socket);
    const closed = readAll(silent);
    silent.write('pi');
    // Others are answered while the silent client holds its connection.
    expect(await agent.talk('pid')).toBe(`${agent.pid}\n`);
    await waitFor('idle client closed', () => silent.destroyed || silent.readableEnded, { timeoutMs: 5000 });
    expect(await closed).toBe('');
  });

  it('answers 200 concurrent clients', async () => {
    const agent = await startAgent();
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? talkLine(agent.socket, 'pid') : agent.rpc<number>('agent.pid').then((p) => `${p}\n`))));
    expect(replies.every((r) => r === `${agent.pid}\n`)).toBe(true);
  });
});

describe('control socket: JSON-RPC dialect', () => {
  it('keeps the connection open for several requests and answers by id', async () => {
    const agent = await startAgent();
    const replies = await rpcLines(agent.socket, [
      '{"jsonrpc":"2.0","id":1,"method":"agent.pid"}',
      '{"jsonrpc":"2.0","id":"b","method":"agent.status","params":{}}',
      '{"jsonrpc":"2.0","method":"agent.version"}', // a notification: no reply
      '{"jsonrpc":"2.0","id":3,"method":"agent.uptime"}',
    ], 3);
    const byId = new Map(replies.map((r) => [r.id, r]));
    expect(byId.get(1)!.result).toBe(agent.pid);
    expect(byId.get('b')!.result.pid).toBe(agent.pid);
    expect(typeof byId.get(3)!.result).toBe('number');
  });

  it('uses the standard error codes and carries the PXC code in error.data', async () => {
    const agent = await startAgent();
    const [parse, invalid, notFound, params] = await rpcLines(agent.socket, [
      '{"jsonrpc":"2.0","id":1,"method":',
      '{"id":2,"method":"agent.pid"}',
      '{"jsonrpc":"2.0","id":3,"method":"frob.nicate"}',
      '{"jsonrpc":"2.0","id":4,"method":"agent.pid","params":{"x":1}}',
    ]);
    expect(parse!.error.code).toBe(-32700);
    expect(invalid!.error.code).toBe(-32600);
    expect(notFound!.error).toMatchObject({ code: -32601, data: { code: 'PXC_ERR_UNKNOWN_COMMAND' } });
    expect(params!.error).toMatchObject({ code: -32602, data: { code: 'PXC_ERR_BAD_PARAMS' } });
    expect(params!.error.message).toContain('x');
  });
});

describe('control socket: lifecycle', () => {
  it('creates the socket with mode 0600', async () => {
    const agent = await startAgent();
    expect(statSync(agent.socket).mode & 0o777).toBe(0o600);
  });

  it('honours control.mode', async () => {
    const agent = await startAgent({ config: { control: { mode: '0660' } } });
    expect(statSync(agent.socket).mode & 0o777).toBe(0o660);
  });

  it('removes a stale socket file left by a crashed agent', async () => {
    const first = await startAgent();
    await first.kill9();
    expect(existsSync(first.socket)).toBe(true);
    const second = await startAgent({ stateDir: first.stateDir });
    expect(await second.talk('pid')).toBe(`${second.pid}\n`);
  });

  // (A second agent on the same state dir is refused by its lock first: test/integration/agent/lifecycle.test.ts.)
  it('refuses a second agent on a live socket with a clear message', async () => {
    const first = await startAgent();
    const r = await runCli(['agent', 'start', '--state-dir', tempDir(), '--socket', first.socket]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`another agent is already running on ${first.socket}`);
    expect(await first.talk('pid')).toBe(`${first.pid}\n`);
  });

  it('agent start --detach on a live socket says so in one message, without starting a child', async () => {
    const first = await startAgent();
    const r = await runCli(['agent', 'start', '--detach', '--state-dir', first.stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr.replace(/\s*›\s*/g, ' ')).toContain(`another agent is already running on ${first.socket} (pid ${first.pid};`);
    expect(r.stderr).not.toContain('before its socket answered');
    expect(await first.talk('pid')).toBe(`${first.pid}\n`);
  });

  it('refuses a socket path over 107 bytes', async () => {
    const dir = tempDir();
    const long = join(dir, 'a'.repeat(120 - dir.length), 'agent.sock');
    const r = await runCli(['agent', 'start', '--state-dir', dir, '--socket', long]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/socket path is \d+ bytes, over the 107-byte limit/);
  });

  it('refuses to replace a file that is not a socket', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.sock'), 'precious');
    const r = await runCli(['agent', 'start', '--state-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exists and is not a socket');
  });

  it('exits 0 on SIGTERM and removes the socket file', async () => {
    const agent = await startAgent();
    expect(await agent.stop()).toBe(0);
    expect(existsSync(agent.socket)).toBe(false);
  });

  it('stops on the shutdown command and on `agent stop`', async () => {
    const a = await startAgent();
    expect(await a.talk('shutdown')).toBe('OK\n');
    expect(await a.exited).toBe(0);
    const b = await startAgent();
    const r = await b.cli(['agent', 'stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`agent: stopped (pid ${b.pid})\n`);
    // Nothing left to stop: exit 0, as systemctl stop; --json says which.
    const again = await b.cli(['agent', 'stop']);
    expect(again).toMatchObject({ code: 0, stdout: `agent: not running (nothing listens on ${b.socket})\n` });
    expect(JSON.parse((await b.cli(['agent', 'stop', '--json'])).stdout)).toEqual({ state: 'not_running', pid: null, socket: b.socket });
    expect(await b.exited).toBe(0);
  });

  it('writes the stats JSON to stdout on SIGUSR1', async () => {
    const agent = await startAgent();
    agent.process.kill('SIGUSR1');
    const line = await waitFor('stats on stdout', () => agent.stdout().split('\n').find((l) => l.startsWith('{')));
    const stats = JSON.parse(line);
    expect(stats.control.connections).toBeGreaterThan(0);
    expect(stats.process.rss_bytes).toBeGreaterThan(0);
  });

  it('runs detached with --detach and prints the pid once the socket answers', async () => {
    const dir = tempDir();
    const r = await runCli(['agent', 'start', '--detach', '--state-dir', dir]);
    expect(r.code).toBe(0);
    const pid = Number(r.stdout.trim());
    try {
      expect((await talkLine(join(dir, 'agent.sock'), 'pid')).trim()).toBe(String(pid));
    } finally {
      const stop = await runCli(['agent', 'stop', '--state-dir', dir]);
      expect(stop.code).toBe(0);
    }
  });
});

describe('config', () => {
  it('runs with no config file at all', async () => {
    const agent = await startAgent();
    const status = await agent.rpc<{ config_path: string | null }>('agent.status');
    expect(status.config_path).toBeNull();
  });

  it('refuses to start on a malformed config, naming the path', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ apps: [{ name: 'a', ports: [70000], targets: ['127.0.0.1:1'] }], proxy: { bogus: 1 } }));
    const r = await runCli(['agent', 'start', '--state-dir', dir, '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('apps[0].ports[0]: port 70000 out of range');
    expect(r.stderr).toContain('proxy: unknown key "bogus"');
    const notJson = join(dir, 'nojson.json');
    writeFileSync(notJson, '{"apps": [');
    const r2 = await runCli(['agent', 'start', '--state-dir', dir, '--config', notJson]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`${notJson}: not valid JSON`);
  });

  it('keeps the running config when SIGHUP or reload meets a broken file', async () => {
    const agent = await startAgent({ config: { control: { idle_timeout: 7 } } });
    agent.writeConfig('{"control": {"idle_timeout": "soon"}}');
    agent.process.kill('SIGHUP');
    await waitFor('reload refusal logged', () => agent.stderr().includes('reload refused'));
    expect(agent.stderr()).toContain('control.idle_timeout: Expected number, received string');
    const r = await agent.cli(['agent', 'reload']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('control.idle_timeout: Expected number, received string');
    expect(await agent.talk('pid')).toBe(`${agent.pid}\n`);
    agent.writeConfig({ control: { idle_timeout: 8 } });
    expect((await agent.cli(['agent', 'reload'])).code).toBe(0);
  });
});

describe('CLI exit codes', () => {
  it('suggests the nearest command for a typo, shows the words as typed, and takes global flags before the command', async () => {
    const typo = await runCli(['downlod', 'list']);
    expect(typo).toMatchObject({ code: 2, stderr: "proxyctl: unknown command \"downlod list\"; did you mean `download list`? (see 'proxyctl download list --help')\n" });
    // A URL keeps its colon (oclif joins the words with ":").
    const colon = await runCli(['download', 'ad', 'http://x/f']);
    expect(colon.stderr).toBe("proxyctl: unknown command \"download ad http://x/f\"; did you mean `download add`? (see 'proxyctl download add --help')\n");
    // --socket before the command is read as the socket (exit 3 naming it), not as an unknown command.
    const sock = join(tempDir(), 'nobody.sock');
    const before = await runCli(['--socket', sock, 'agent', 'status', '--json']);
    expect(before.code, before.stderr).toBe(3);
    expect(JSON.parse(before.stdout).error.message).toContain(sock);
  });

  it('exits 0, 1, 2 and 3 as documented, the same with --json', async () => {
    const agent = await startAgent();
    const ok = await agent.cli(['agent', 'status']);
    expect(ok.code).toBe(0);
    const talkErr = await agent.cli(['talk', 'frobnicate']);
    expect(talkErr.code).toBe(1);
    expect(talkErr.stdout).toMatch(/^error: /);
    const usage = await agent.cli(['agent', 'status', '--bogus']);
    expect(usage.code).toBe(2);
    const unknown = await agent.cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`proxyctl: unknown command "frobnicate"; see 'proxyctl help'\n`);
    // A known command given words it does not take is named as such, not as an unknown command.
    const extra = await agent.cli(['stats', 'extra']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toBe(`proxyctl: stats: unexpected argument "extra"; see 'proxyctl stats --help'\n`);
    // A command's own usage error is one unwrapped line, like the agent's errors.
    const own = await agent.cli(['proxy', 'set']);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/^proxyctl: proxy set: missing SPEC [^\n]*DIRECT"\n$/);
    // oclif's flag validation keeps its own format (it points at --help).
    const badFlag = await agent.cli(['agent', 'stop', '--timeout', '0']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).not.toMatch(/^proxyctl: /);
    expect(badFlag.stderr).toMatch(/Parsing --timeout[\s\S]*See more help with --help/);
    const dir = tempDir();
    const env = { PROXYCTL_SOCKET: join(dir, 'nobody.sock') };
    const down = await runCli(['agent', 'status'], { env });
    expect(down.code).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toContain(join(dir, 'nobody.sock'));
    expect(down.stderr).toContain('proxyctl agent start');
    const downJson = await runCli(['agent', 'status', '--json'], { env });
    expect(downJson.code).toBe(3);
    expect(JSON.parse(downJson.stdout).error.code).toBe('PXC_ERR_AGENT_UNREACHABLE');
  });

  it('talks to the agent named by PROXYCTL_SOCKET or --socket', async () => {
    const agent = await startAgent();
    const viaFlag = await runCli(['agent', 'status', '--json', '--socket', agent.socket], { env: { PROXYCTL_SOCKET: '' } });
    expect(JSON.parse(viaFlag.stdout).pid).toBe(agent.pid);
  });
});

// A live listener is never deleted as stale, even when it is not an agent.
describe('stale-socket detection', () => {
  it('does not mistake a live non-agent listener for stale', async () => {
    const dir = tempDir();
    const path = join(dir, 'agent.sock');
    const squatter = createServer((c) => c.end()).listen(path);
    await new Promise((r) => squatter.once('listening', r));
    try {
      const r = await runCli(['agent', 'start', '--state-dir', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('already running');
    } finally {
      squatter.close();
    }
  });
});
