import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';

/**
 * The CLI's exit codes and its socket selection, against an in-process agent.
 * Every run is a separate CLI process; they are independent, so they run at once.
 */

let agent: InProcessAgent;
beforeAll(async () => {
  agent = await startInProcessAgent();
});
afterAll(closeInProcessAgents);

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
    const dir = tempDir();
    const env = { PROXYCTL_SOCKET: join(dir, 'nobody.sock') };
    const [ok, talkErr, usage, unknown, extra, own, badFlag, down, downJson] = await Promise.all([
      agent.cli(['agent', 'status']),
      agent.cli(['talk', 'frobnicate']),
      agent.cli(['agent', 'status', '--bogus']),
      agent.cli(['frobnicate']),
      agent.cli(['stats', 'extra']),
      agent.cli(['proxy', 'set']),
      agent.cli(['agent', 'stop', '--timeout', '0']),
      runCli(['agent', 'status'], { env }),
      runCli(['agent', 'status', '--json'], { env }),
    ]);
    expect(ok.code).toBe(0);
    expect(talkErr.code).toBe(1);
    expect(talkErr.stdout).toMatch(/^error: /);
    expect(usage.code).toBe(2);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`proxyctl: unknown command "frobnicate"; see 'proxyctl help'\n`);
    // A known command given words it does not take is named as such, not as an unknown command.
    expect(extra.code).toBe(2);
    expect(extra.stderr).toBe(`proxyctl: stats: unexpected argument "extra"; see 'proxyctl stats --help'\n`);
    // A command's own usage error is one unwrapped line, like the agent's errors.
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/^proxyctl: proxy set: missing SPEC [^\n]*DIRECT"\n$/);
    // oclif's flag validation keeps its own format (it points at --help).
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).not.toMatch(/^proxyctl: /);
    expect(badFlag.stderr).toMatch(/Parsing --timeout[\s\S]*See more help with --help/);
    expect(down.code).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toContain(join(dir, 'nobody.sock'));
    expect(down.stderr).toContain('proxyctl agent start');
    expect(downJson.code).toBe(3);
    expect(JSON.parse(downJson.stdout).error.code).toBe('PXC_ERR_AGENT_UNREACHABLE');
    // Nothing of that stopped the agent.
    expect(await agent.talk('pid')).toBe(`${agent.pid}\n`);
  });

  it('talks to the agent named by --socket', async () => {
    const viaFlag = await runCli(['agent', 'status', '--json', '--socket', agent.socket], { env: { PROXYCTL_SOCKET: '' } });
    expect(JSON.parse(viaFlag.stdout).pid).toBe(agent.pid);
  });
});
