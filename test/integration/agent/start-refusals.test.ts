import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAgents, runCli, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';

/**
 * `agent start` refusing to start: each test runs the real CLI once or twice
 * and waits for its exit, so they run concurrently (each owns its temp dirs).
 */

afterAll(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
});

describe.concurrent('agent start refuses', () => {
  // (A second agent on the same state dir is refused by its lock first: test/integration/agent/lifecycle.test.ts.)
  it('a second agent on a live socket, with a clear message', async () => {
    const first = await startInProcessAgent();
    const r = await runCli(['agent', 'start', '--state-dir', tempDir(), '--socket', first.socket]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`another agent is already running on ${first.socket}`);
    expect(await first.talk('pid')).toBe(`${first.pid}\n`);
  });

  it('--detach on a live socket, in one message, without starting a child', async () => {
    const first = await startInProcessAgent();
    const r = await runCli(['agent', 'start', '--detach', '--state-dir', first.stateDir]);
    expect(r.code).toBe(1);
    expect(r.stderr.replace(/\s*›\s*/g, ' ')).toContain(`another agent is already running on ${first.socket} (pid ${first.pid};`);
    expect(r.stderr).not.toContain('before its socket answered');
    expect(await first.talk('pid')).toBe(`${first.pid}\n`);
  });

  it('a socket path over 107 bytes', async () => {
    const dir = tempDir();
    const long = join(dir, 'a'.repeat(120 - dir.length), 'agent.sock');
    const r = await runCli(['agent', 'start', '--state-dir', dir, '--socket', long]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/socket path is \d+ bytes, over the 107-byte limit/);
  });

  it('to replace a file that is not a socket', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.sock'), 'precious');
    const r = await runCli(['agent', 'start', '--state-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exists and is not a socket');
  });

  // A live listener is never deleted as stale, even when it is not an agent.
  it('a live non-agent listener, not mistaking it for stale', async () => {
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

  it('a malformed config, naming the path', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ apps: [{ name: 'a', ports: [70000], targets: ['127.0.0.1:1'] }], proxy: { bogus: 1 } }));
    const notJson = join(dir, 'nojson.json');
    writeFileSync(notJson, '{"apps": [');
    const [r, r2] = await Promise.all([runCli(['agent', 'start', '--state-dir', dir, '--config', cfg]), runCli(['agent', 'start', '--state-dir', tempDir(), '--config', notJson])]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('apps[0].ports[0]: port 70000 out of range');
    expect(r.stderr).toContain('proxy: unknown key "bogus"');
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`${notJson}: not valid JSON`);
  });
});
