import { afterEach, describe, expect, it } from 'vitest';
import type { ParameterRow } from '../../../src/config/parameters.js';
import type { ProxyInfo, TimeoutInfo } from '../../../src/upstream/commands.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';
import { closePacOrigins, pacAnswering, startPacOrigin } from '../../unit/upstream/pac-origin.js';

/**
 * What a cvmfs_talk user reaches for: the CLI and the talk dialect over the
 * agent's socket (the commands' logic has unit tests in test/unit/upstream).
 * The agent and the CLI run in-process: their output is under test, not their processes.
 */

afterEach(async () => {
  await closeInProcessAgents();
  await closePacOrigins();
});

describe('an agent with auto in its proxy string', () => {
  it('serves proxy set auto, timeout, reset-errors and parameters through the CLI and talk', async () => {
    const origin = await startPacOrigin(pacAnswering('PROXY 127.0.0.1:9; DIRECT'));
    const agent = await startInProcessAgent({ config: { proxy: { http_proxy: 'http://127.0.0.1:10;DIRECT', health_check: false, timeout: 4, pac_urls: [origin.url] } } });

    expect(await agent.talk('proxy set auto')).toBe('OK\n');
    const info = await agent.rpc<ProxyInfo>('proxy.info');
    expect(info).toMatchObject({ spec: 'http://127.0.0.1:9;DIRECT', pac: { source: origin.url, result: 'PROXY 127.0.0.1:9; DIRECT' }, reset_in_s: null });
    expect(await agent.talk('proxy info')).toContain(`Auto proxies: http://127.0.0.1:9;DIRECT from ${origin.url}`);

    expect((await agent.cliInProcess(['timeout', 'set', '1.5', '6'])).stdout).toBe('Timeout with proxy: 1.5 s (timeout set)\nTimeout without proxy: 6 s (timeout set)\n');
    expect(await agent.rpc<TimeoutInfo>('timeout.info')).toEqual({ proxy_s: 1.5, direct_s: 6, source: { proxy: 'run-time', direct: 'run-time' } });
    const bad = await agent.cliInProcess(['timeout', 'set', '0', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('timeout set: PROXY_S "0" is not a positive number of seconds');

    const reset = await agent.cliInProcess(['proxy', 'reset-errors', '--json']);
    expect(JSON.parse(reset.stdout)).toEqual({ proxies: 2 });
    expect((await agent.cliInProcess(['proxy', 'reset-errors'])).stdout).toBe('proxy error counts: reset (2 proxies)\n');
    expect(await agent.talk('reset error counters')).toBe('OK\n');

    const params = JSON.parse((await agent.cliInProcess(['parameters', 'proxy', '--json'])).stdout) as ParameterRow[];
    const row = (key: string) => params.find((r) => r.key === key);
    expect(row('proxy.http_proxy')).toEqual({ key: 'proxy.http_proxy', value: 'auto', source: 'run-time' });
    expect(row('proxy.timeout')).toEqual({ key: 'proxy.timeout', value: 1.5, source: 'run-time' });
    expect(row('proxy.health_check')).toEqual({ key: 'proxy.health_check', value: false, source: 'file' });
    expect(row('proxy.reset_after')).toEqual({ key: 'proxy.reset_after', value: 300, source: 'default' });
    expect(params.every((r) => r.key.startsWith('proxy.'))).toBe(true);
    expect(await agent.talk('parameters proxy.pac_urls')).toBe(`proxy.pac_urls=${JSON.stringify([origin.url])}    # file\n`);
    const table = await agent.cliInProcess(['parameters']);
    expect(table.stdout).toMatch(/^KEY\s+VALUE\s+SOURCE\n/);
    expect(table.stdout).toMatch(/\nproxy\.timeout_direct\s+6\s+run-time\n/);
  });
});
