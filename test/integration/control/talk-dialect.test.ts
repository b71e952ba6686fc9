import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAgents, talkLine } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { connect, readAll, rpcLines } from '../../helpers/socket-client.js';
import { waitFor } from '../../helpers/wait.js';

/** The talk dialect and the socket's framing, on one in-process agent's real socket. */

let agent: InProcessAgent;
beforeAll(async () => {
  agent = await startInProcessAgent();
});
afterAll(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('control socket: talk dialect', () => {
  it('answers each built-in command in plain text and closes the connection', async () => {
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
    expect(await agent.talk('frobnicate')).toBe(`error: unknown command "frobnicate"; try 'help'\n`);
    expect(await agent.talk('proxy frob')).toMatch(/^error: unknown command "proxy frob" \(proxy commands: proxy fallback, .*proxy info, /);
    expect(await agent.talk('pid 3')).toMatch(/^error: pid: takes no arguments/);
    expect(await agent.talk('')).toMatch(/^error: empty command/);
  });

  it('refuses invalid UTF-8 and keeps serving', async () => {
    const s = await connect(agent.socket);
    const reply = readAll(s);
    s.write(Buffer.from([0x70, 0x69, 0xff, 0xfe, 0x64, 0x0a]));
    expect(await reply).toBe('error: control line is not valid UTF-8\n');
    const rpc = await rpcLines(agent.socket, ['{"jsonrpc":"2.0","id":1,"method":"agent.pid"}']);
    expect(rpc[0]!.result).toBe(agent.pid);
  });

  it('refuses a 1 MiB line with an error and stays alive', async () => {
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

  it('answers 200 concurrent clients', async () => {
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? talkLine(agent.socket, 'pid') : agent.rpc<number>('agent.pid').then((p) => `${p}\n`))));
    expect(replies.every((r) => r === `${agent.pid}\n`)).toBe(true);
  });
});

describe('control socket: idle clients', () => {
  it('closes a client that sends half a line and goes silent, while others are served', async () => {
    const idle = await startInProcessAgent({ config: { control: { idle_timeout: 0.5 } } });
    const silent = await connect(idle.socket);
    const closed = readAll(silent);
    silent.write('pi');
    // Others are answered while the silent client holds its connection.
    expect(await idle.talk('pid')).toBe(`${idle.pid}\n`);
    await waitFor('idle client closed', () => silent.destroyed || silent.readableEnded, { timeoutMs: 5000 });
    expect(await closed).toBe('');
  });
});
