import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cleanupAgents, startAgent, type TestAgent } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';

/** `proxyctl proxy set` without SPEC on a real terminal (tmux): the enquirer prompt edits the groups. */

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const sessions: string[] = [];

let agent: TestAgent;
beforeAll(async () => {
  agent = await startAgent({ config: { proxy: { http_proxy: 'http://127.0.0.1:9;DIRECT', health_check: false } } });
});
beforeEach(async () => {
  await agent.rpc('proxy.reset');
});
afterEach(() => {
  for (const s of sessions.splice(0)) spawnSync('tmux', ['kill-session', '-t', s], { stdio: 'ignore' });
});
afterAll(async () => {
  await cleanupAgents();
});

/** Runs `proxyctl ARGS` in a new tmux session (a real terminal); the pane then shows EXIT=<code>. */
function onTerminal(name: string, args: string): string {
  const session = `pxc-${name}-${process.pid}`;
  sessions.push(session);
  const cmd = `env PROXYCTL_SOCKET='${agent.socket}' NO_COLOR=1 '${process.execPath}' '${BIN}' ${args}; echo "EXIT=$?"; sleep 60`;
  expect(spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '40', cmd]).status).toBe(0);
  return session;
}

const screen = (session: string) => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
const keys = (session: string, ...k: string[]) => spawnSync('tmux', ['send-keys', '-t', session, ...k]);

describe.skipIf(!hasTmux)('proxyctl proxy set on a terminal', () => {
  it('prompts with the current groups, shows the new ones and applies them after confirmation', async () => {
    const session = onTerminal('set', 'proxy set');
    await waitFor('the prompt with the current groups', () => screen(session).includes('Proxy groups') && screen(session).includes('http://127.0.0.1:9;DIRECT'), { timeoutMs: 20_000 });
    keys(session, 'http://127.0.0.1:7|127.0.0.1:8;DIRECT', 'Enter');
    await waitFor('the confirmation', () => screen(session).includes('Replace "http://127.0.0.1:9;DIRECT" with them?'));
    expect(screen(session)).toContain('[0] http://127.0.0.1:7, 127.0.0.1:8');
    // A destructive change: No is the default.
    expect(screen(session)).toContain('with them? (y/N)');
    keys(session, 'y');
    await waitFor('the command to finish', () => screen(session).includes('EXIT='), { timeoutMs: 20_000 });
    expect(screen(session)).toMatch(/with them\? \(y\/N\) · yes\n/);
    expect(screen(session)).not.toMatch(/true|false/);
    expect(screen(session)).toMatch(/^proxy groups: http:\/\/127\.0\.0\.1:7\|http:\/\/127\.0\.0\.1:8;DIRECT \(revision \d+, active \[0\] \S+\)\nEXIT=0/m);
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:7|http://127.0.0.1:8;DIRECT');
  });

  it('leaves the groups alone when the change is declined, Enter included', async () => {
    const session = onTerminal('set-no', 'proxy set DIRECT');
    await waitFor('the confirmation', () => screen(session).includes('with them?'), { timeoutMs: 20_000 });
    keys(session, 'Enter');
    await waitFor('the command to finish', () => screen(session).includes('EXIT='), { timeoutMs: 20_000 });
    expect(screen(session)).toMatch(/· no\nproxy groups: unchanged, http:\/\/127\.0\.0\.1:9;DIRECT\nEXIT=0/);
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:9;DIRECT');
  });

  it('exits 130 quietly on Ctrl-C at either prompt, changing nothing', async () => {
    for (const [name, args, prompt] of [['set-c1', 'proxy set', 'Proxy groups'], ['set-c2', 'proxy set DIRECT', 'with them?']] as const) {
      const session = onTerminal(name, args);
      await waitFor(`the prompt of ${args}`, () => screen(session).includes(prompt), { timeoutMs: 20_000 });
      keys(session, 'C-c');
      await waitFor('the command to finish', () => screen(session).includes('EXIT='), { timeoutMs: 20_000 });
      expect(screen(session)).toContain('EXIT=130');
      expect(screen(session)).not.toMatch(/Error|TypeError|proxyctl:/);
    }
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:9;DIRECT');
  });
});
