import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAgents, runCli, startAgent, talkLine, tempDir, type TestAgent } from '../../helpers/agent.js';
import { cliInProcess } from '../../helpers/cli-in-process.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The agent as a process: signals, the shutdown command, exit codes and
 * --detach. One spawned agent serves the signal tests in order (SIGUSR1, SIGHUP,
 * then SIGTERM ends it); the stop tests need their own.
 */

afterAll(cleanupAgents);

describe('agent process: signals', () => {
  let agent: TestAgent;
  beforeAll(async () => {
    agent = await startAgent({ config: { control: { idle_timeout: 7 } } });
  });

  it('writes the stats JSON to stdout on SIGUSR1', async () => {
    agent.process.kill('SIGUSR1');
    const line = await waitFor('stats on stdout', () => agent.stdout().split('\n').find((l) => l.startsWith('{')));
    const stats = JSON.parse(line);
    expect(stats.control.connections).toBeGreaterThan(0);
    expect(stats.process.rss_bytes).toBeGreaterThan(0);
  });

  it('keeps the running config when SIGHUP or reload meets a broken file', async () => {
    agent.writeConfig('{"control": {"idle_timeout": "soon"}}');
    agent.process.kill('SIGHUP');
    await waitFor('reload refusal logged', () => agent.stderr().includes('reload refused'));
    expect(agent.stderr()).toContain('control.idle_timeout: Expected number, received string');
    const r = await cliInProcess(['agent', 'reload'], { socket: agent.socket });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('control.idle_timeout: Expected number, received string');
    // The README's way: a talk line from a client that half-closes at once still gets its error.
    const talked = spawnSync('sh', ['-c', `printf 'reload\\n' | socat - UNIX-CONNECT:${agent.socket}`], { encoding: 'utf8', timeout: 30_000 });
    expect(talked.stdout).toMatch(/^error: .*control\.idle_timeout: Expected number, received string/);
    expect(await agent.talk('pid')).toBe(`${agent.pid}\n`);
    agent.writeConfig({ control: { idle_timeout: 8 } });
    expect((await cliInProcess(['agent', 'reload'], { socket: agent.socket })).code).toBe(0);
  });

  it('exits 0 on SIGTERM and removes the socket file', async () => {
    expect(await agent.stop()).toBe(0);
    expect(existsSync(agent.socket)).toBe(false);
  });
});

describe('agent process: limits', () => {
  it('raises its soft descriptor limit to the hard one at start, and logs it', async () => {
    const hard = Number(/^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))![1]);
    // (Once per process: an in-process agent in a test worker may find it raised already.)
    const agent = await startAgent();
    const m = /file descriptor limit: soft (\d+) → (\d+), hard (\d+)/.exec(agent.stderr());
    expect(m?.slice(2).map(Number)).toEqual([hard, hard]);
    expect(readFileSync(`/proc/${agent.pid}/limits`, 'utf8')).toMatch(new RegExp(`^Max open files\\s+${hard}\\s+${hard}`, 'm'));
    expect(await agent.stop()).toBe(0);
  });
});

describe('agent process: stopping', () => {
  it('stops on the shutdown command and on `agent stop`', async () => {
    const [a, b] = await Promise.all([startAgent(), startAgent()]);
    expect(await a.talk('shutdown')).toBe('OK\n');
    const r = await b.cli(['agent', 'stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`agent: stopped (pid ${b.pid})\n`);
    // Nothing left to stop: exit 0, as systemctl stop; --json says which.
    const again = await cliInProcess(['agent', 'stop'], { socket: b.socket });
    expect(again).toMatchObject({ code: 0, stdout: `agent: not running (nothing listens on ${b.socket})\n` });
    expect(JSON.parse((await cliInProcess(['agent', 'stop', '--json'], { socket: b.socket })).stdout)).toEqual({ state: 'not_running', pid: null, socket: b.socket });
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
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
