import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cleanupAgents, startAgent } from '../../helpers/agent.js';
import { waitFor } from '../../helpers/wait.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';

/** `proxyctl proxy set` without SPEC on a real terminal (tmux): the enquirer prompt edits the groups. */

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const sessions: string[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) spawnSync('tmux', ['kill-session', '-t', s], { stdio: 'ignore' });
  await cleanupAgents();
});

const screen = (session: string) => spawnSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).stdout;
const keys = (session: string, ...k: string[]) => spawnSync('tmux', ['send-keys', '-t', session, ...k]);

describe.skipIf(!hasTmux)('proxyctl proxy set on a terminal', () => {
  it('prompts with the current groups, shows the new ones and applies them after confirmation', async () => {
    const agent = await startAgent({ config: { proxy: { http_proxy: 'http://127.0.0.1:9;DIRECT', health_check: false } } });
    const session = `pxc-set-${process.pid}`;
    sessions.push(session);
    const cmd = `env PROXYCTL_SOCKET='${agent.socket}' NO_COLOR=1 '${process.execPath}' '${BIN}' proxy set; echo "EXIT=$?"; sleep 60`;
    expect(spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '40', cmd]).status).toBe(0);

    await waitFor('the prompt with the current groups', () => screen(session).includes('Proxy groups') && screen(session).includes('http://127.0.0.1:9;DIRECT'), { timeoutMs: 20_000 });
    keys(session, 'http://127.0.0.1:7|127.0.0.1:8;DIRECT', 'Enter');
    await waitFor('the confirmation', () => screen(session).includes('Replace "http://127.0.0.1:9;DIRECT" with them?'));
    expect(screen(session)).toContain('[0] http://127.0.0.1:7, 127.0.0.1:8');
    keys(session, 'y', 'Enter');
    await waitFor('the command to finish', () => screen(session).includes('EXIT='), { timeoutMs: 20_000 });
    expect(screen(session)).toMatch(/OK\nEXIT=0/);
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:7|http://127.0.0.1:8;DIRECT');
  });

  it('leaves the groups alone when the change is declined', async () => {
    const agent = await startAgent({ config: { proxy: { http_proxy: 'http://127.0.0.1:9;DIRECT', health_check: false } } });
    const session = `pxc-set-no-${process.pid}`;
    sessions.push(session);
    const cmd = `env PROXYCTL_SOCKET='${agent.socket}' NO_COLOR=1 '${process.execPath}' '${BIN}' proxy set DIRECT; echo "EXIT=$?"; sleep 60`;
    spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '40', cmd]);
    await waitFor('the confirmation', () => screen(session).includes('with them?'), { timeoutMs: 20_000 });
    keys(session, 'n', 'Enter');
    await waitFor('the command to finish', () => screen(session).includes('EXIT='), { timeoutMs: 20_000 });
    expect(screen(session)).toMatch(/unchanged\nEXIT=0/);
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:9;DIRECT');
  });
});
