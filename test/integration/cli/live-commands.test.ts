import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cleanupAgents, runCli, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { FAKE } from '../../helpers/controller.js';
import { freePort } from '../../helpers/echo-server.js';
import { closeTerminals, hasTmux, openTerminal } from '../../helpers/tmux.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The CLI's live commands as a user runs them: `proxyctl events`,
 * `service logs --follow` and `agent logs --follow` print as things happen
 * and exit 0 quietly on Ctrl-C.
 */

interface Live {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

const lives: Live[] = [];

function live(args: string[], env: NodeJS.ProcessEnv = {}): Live {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const l = { child, out: () => out, err: () => err, exited: new Promise<number | null>((r) => child.once('exit', (code) => r(code))) };
  lives.push(l);
  return l;
}

afterEach(async () => {
  for (const l of lives.splice(0)) l.child.kill('SIGKILL');
  await closeInProcessAgents();
  await cleanupAgents();
});

/** The agent in-process (the CLI processes following it are what is under test), its service a real process. */
async function agentWithService(): Promise<InProcessAgent> {
  const port = await freePort();
  const agent = await startInProcessAgent({
    logLevel: 'info',
    config: {
      apps: [{ name: 'web', ports: [port] }],
      services: [{ name: 'web', app: 'web', command: ['{node}', FAKE], ready: { kind: 'jsonrpc' }, ready_attempts: 100, ready_interval: 0.05, drain: 0, stop_timeout: 2 }],
    },
  });
  await waitFor('web READY', async () => (await agent.rpc<{ state: string }>('service.info', { service: 'web' })).state === 'READY', { timeoutMs: 60_000 });
  return agent;
}

describe('proxyctl events and service logs --follow', () => {
  it('print what happens, one line each, filtered by topic (an unknown one refused), and exit 0 quietly on Ctrl-C', async () => {
    const agent = await agentWithService();
    const env = { PROXYCTL_SOCKET: agent.socket };
    const all = live(['events'], env);
    const json = live(['events', '--json', '--topic', 'deploy', '--topic', 'service.exit'], env);
    const logs = live(['service', 'logs', 'web', '--follow', '-n', '1'], env);
    // Each is subscribed once the agent counts three subscribers.
    await waitFor('subscribed', async () => (await agent.rpc<any>('agent.stats')).events.subscribers === 3, { timeoutMs: 60_000 });
    // logs --follow subscribes before it reads the backlog (no line falls between), so its first line may come after the count
    await waitFor('the backlog line', () => /web@v1 out \| fake-service pid \d+ listening/.test(logs.out()), { timeoutMs: 30_000 });

    expect((await agent.talk('reload')).trim()).toBe('OK');
    const info = await agent.rpc<{ current: { pid: number } }>('service.info', { service: 'web' });
    process.kill(info.current.pid, 'SIGKILL');
    await waitFor('restart seen', () => /service\.restart web@v1 restarted/.test(all.out()), { timeoutMs: 60_000 });
    expect((await agent.cliInProcess(['service', 'restart', 'web'])).code).toBe(0);
    await waitFor('restart op seen', () => /deploy\.phase web: restart \d+ v1 -> v1 READY succeeded/.test(all.out()), { timeoutMs: 60_000 });

    expect(all.out()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} agent\.reload config reloaded from /m);
    expect(all.out()).toMatch(/service\.exit web@v1 pid \d+ exited \(killed by SIGKILL\); restart in 0\.1 s/);
    expect(all.out()).not.toMatch(/service\.log/);
    // each follower is its own process: the --json one may print READY after the plain one did
    const jsonEvents = () =>
      json
        .out()
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { topic: string; state?: string });
    await waitFor('the --json follower saw READY', () => jsonEvents().some((e) => e.topic === 'deploy.phase' && e.state === 'READY'), { timeoutMs: 30_000 });
    const events = jsonEvents();
    expect(new Set(events.map((e) => e.topic))).toEqual(new Set(['service.exit', 'deploy.phase']));
    expect(events.find((e) => e.topic === 'service.exit')).toMatchObject({ service: 'web', version: 1, signal: 'SIGKILL', action: 'restart', delay_ms: 100 });
    expect(events.filter((e) => e.topic === 'deploy.phase').map((e) => e.state)).toEqual(['ROLLOUT_LAUNCH_NEW', 'ROLLOUT_WAIT', 'READY']);
    // The restarted instances' start lines, as they came.
    await waitFor('new lines followed', () => (logs.out().match(/listening/g) ?? []).length >= 3, { timeoutMs: 60_000 });

    const bad = await agent.cliInProcess(['events', '--topic', 'deploys']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown event topic "deploys" \(did you mean deploy\? topics: /);

    for (const l of [all, json, logs]) l.child.kill('SIGINT');
    for (const [name, l] of Object.entries({ all, json, logs })) {
      expect([name, await l.exited, l.err()]).toEqual([name, 0, '']);
    }
  });
});

describe('proxyctl agent logs', () => {
  const line = (level: number, msg: string, extra: object = {}) => JSON.stringify({ level, time: Date.UTC(2026, 0, 2, 3, 4, 5), pid: 1, msg, ...extra }) + '\n';

  it('prints the last lines of agent.log as readable lines, the JSON with --json, and follows new ones until Ctrl-C', async () => {
    const dir = tempDir('pxc-log-');
    const log = join(dir, 'agent.log');
    writeFileSync(log, line(30, 'agent started') + line(50, 'service notes degraded', { service: 'notes' }) + line(30, 'config reloaded'));
    const r = await runCli(['agent', 'logs', '--state-dir', dir, '-n', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^\[2026-01-02 \d\d:04:05\.000\] ERROR: service notes degraded \{"service":"notes"\}$/), expect.stringMatching(/^\[2026-01-02 .*\] INFO: config reloaded$/)]);
    const j = await runCli(['agent', 'logs', '--state-dir', dir, '-n', '1', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ level: 30, msg: 'config reloaded' });

    const f = live(['agent', 'logs', '--state-dir', dir, '-n', '1', '--follow']);
    await waitFor('tail printed', () => f.out().includes('config reloaded'));
    appendFileSync(log, line(40, 'proxy switch'));
    await waitFor('new line followed', () => /WARN: proxy switch/.test(f.out()));
    f.child.kill('SIGINT');
    expect(await f.exited).toBe(0);
    expect(f.err()).toBe('');
  });

  it('says where the log is missing and why', async () => {
    const dir = tempDir('pxc-log-');
    const r = await runCli(['agent', 'logs', '--state-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no log at ${join(dir, 'agent.log')}: the agent writes it only when started with --detach`);
  });
});

describe.skipIf(!hasTmux)('a foreground agent on a terminal (tmux)', () => {
  afterEach(closeTerminals);

  it('logs one readable line per entry, not JSON', async () => {
    const dir = tempDir('pxc-fg-');
    const t = await openTerminal('fg', `NO_COLOR=1 '${process.execPath}' '${BIN}' agent start --state-dir '${dir}'; sleep 600`, { cols: 200, rows: 20 });
    const screen = await t.waitScreen('agent started line', (s) => /INFO: agent started/.test(s), { timeoutMs: 60_000 });
    expect(screen).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: agent started \{"socket":/m);
    expect(screen).not.toContain('{"level":');
    expect((await runCli(['agent', 'stop', '--state-dir', dir])).code).toBe(0);
  });
});
