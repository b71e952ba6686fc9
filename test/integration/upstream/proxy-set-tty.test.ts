import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cleanupAgents, startAgent, type TestAgent } from '../../helpers/agent.js';
import { closeTerminals, hasTmux, openTerminal, type Terminal } from '../../helpers/tmux.js';
import type { ProxyInfo } from '../../../src/upstream/commands.js';

/** `proxyctl proxy set` without SPEC on a real terminal (tmux): the enquirer prompt edits the groups. */

let agent: TestAgent;
beforeAll(async () => {
  agent = await startAgent({ config: { proxy: { http_proxy: 'http://127.0.0.1:9;DIRECT', health_check: false } } });
});
beforeEach(async () => {
  await agent.rpc('proxy.reset');
});
afterEach(closeTerminals);
afterAll(async () => {
  await cleanupAgents();
});

/** Runs `proxyctl ARGS` in a new tmux session (a real terminal); the pane then shows EXIT=<code>. */
function onTerminal(name: string, args: string): Promise<Terminal> {
  return openTerminal(name, `env PROXYCTL_SOCKET='${agent.socket}' NO_COLOR=1 '${process.execPath}' '${BIN}' ${args}; echo "EXIT=$?"; sleep 60`);
}

describe.skipIf(!hasTmux)('proxyctl proxy set on a terminal', () => {
  it('prompts with the current groups, shows the new ones and applies them after confirmation', async () => {
    const t = await onTerminal('set', 'proxy set');
    await t.waitScreen('the prompt with the current groups', (s) => s.includes('Proxy groups') && s.includes('http://127.0.0.1:9;DIRECT'), { timeoutMs: 20_000 });
    await t.keys('http://127.0.0.1:7|127.0.0.1:8;DIRECT', 'Enter');
    const confirm = await t.waitScreen('the confirmation', (s) => s.includes('Replace "http://127.0.0.1:9;DIRECT" with them?'));
    expect(confirm).toContain('[0] http://127.0.0.1:7, 127.0.0.1:8');
    // A destructive change: No is the default.
    expect(confirm).toContain('with them? (y/N)');
    await t.keys('y');
    const done = await t.waitScreen('the command to finish', (s) => s.includes('EXIT='), { timeoutMs: 20_000 });
    expect(done).toMatch(/with them\? \(y\/N\) · yes\n/);
    expect(done).not.toMatch(/true|false/);
    expect(done).toMatch(/^proxy groups: http:\/\/127\.0\.0\.1:7\|http:\/\/127\.0\.0\.1:8;DIRECT \(revision \d+, active \[0\] \S+\)\nEXIT=0/m);
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:7|http://127.0.0.1:8;DIRECT');
  });

  it('leaves the groups alone when the change is declined, Enter included', async () => {
    const t = await onTerminal('set-no', 'proxy set DIRECT');
    await t.waitScreen('the confirmation', (s) => s.includes('with them?'), { timeoutMs: 20_000 });
    await t.keys('Enter');
    const done = await t.waitScreen('the command to finish', (s) => s.includes('EXIT='), { timeoutMs: 20_000 });
    expect(done).toMatch(/· no\nproxy groups: unchanged, http:\/\/127\.0\.0\.1:9;DIRECT\nEXIT=0/);
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:9;DIRECT');
  });

  it('exits 130 quietly on Ctrl-C at either prompt, changing nothing', async () => {
    for (const [name, args, prompt] of [['set-c1', 'proxy set', 'Proxy groups'], ['set-c2', 'proxy set DIRECT', 'with them?']] as const) {
      const t = await onTerminal(name, args);
      await t.waitScreen(`the prompt of ${args}`, (s) => s.includes(prompt), { timeoutMs: 20_000 });
      await t.keys('C-c');
      const done = await t.waitScreen('the command to finish', (s) => s.includes('EXIT='), { timeoutMs: 20_000 });
      expect(done).toContain('EXIT=130');
      expect(done).not.toMatch(/Error|TypeError|proxyctl:/);
    }
    expect((await agent.rpc<ProxyInfo>('proxy.info')).spec).toBe('http://127.0.0.1:9;DIRECT');
  });
});
