import { existsSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent } from '../../helpers/in-process-agent.js';

/** The control socket's file: its mode, and a stale one left by a crash. */

afterEach(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
});

describe('control socket file', () => {
  it('creates the socket with mode 0600', async () => {
    const agent = await startInProcessAgent();
    expect(statSync(agent.socket).mode & 0o777).toBe(0o600);
  });

  it('honours control.mode', async () => {
    const agent = await startInProcessAgent({ config: { control: { mode: '0660' } } });
    expect(statSync(agent.socket).mode & 0o777).toBe(0o660);
  });

  it('removes a stale socket file left by a crashed agent', async () => {
    const first = await startAgent();
    await first.kill9();
    expect(existsSync(first.socket)).toBe(true);
    const second = await startInProcessAgent({ stateDir: first.stateDir });
    expect(await second.talk('pid')).toBe(`${second.pid}\n`);
  });
});
