import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAgents, startAgent } from '../helpers/agent.js';

afterEach(cleanupAgents);

describe('agent basics', () => {
  it('answers pid over talk and status over JSON-RPC', async () => {
    const agent = await startAgent();
    expect((await agent.talk('pid')).trim()).toBe(String(agent.pid));
    const status = await agent.rpc<{ pid: number }>('agent.status');
    expect(status.pid).toBe(agent.pid);
    const r = await agent.cli(['agent', 'status', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).pid).toBe(agent.pid);
  });
});
