import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Note } from '../../../src/deploy/data-proxy/protocol.js';
import { BIN, cleanupAgents, runCli, tempDir } from '../../helpers/agent.js';
import { cliInProcess } from '../../helpers/cli-in-process.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { freePort } from '../../helpers/echo-server.js';
import { cleanupDataProxies, startDataProxy } from '../../helpers/data-proxy.js';
import { waitFor } from '../../helpers/wait.js';

const agents: InProcessAgent[] = [];

// After all, not each: the --url tests run concurrently (each owns its data proxy and dirs).
afterAll(async () => {
  // a graceful stop, so the agent stops its data proxy instances too
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await cleanupDataProxies();
  await closeInProcessAgents();
  await cleanupAgents();
});

describe.concurrent('proxyctl notes --url', () => {
  it('creates, lists, shows, updates and deletes a note', async () => {
    const dp = await startDataProxy({ db: join(tempDir(), 'notes') });
    const url = ['--url', dp.url];
    const created = await runCli(['notes', 'create', '--title', 'groceries', '--body', 'eggs\nmilk', ...url]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const id = created.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    // Reads of the same state: at once.
    const [list, listJson, shown] = await Promise.all([cliInProcess(['notes', 'list', ...url]), cliInProcess(['notes', 'list', '--json', ...url]), cliInProcess(['notes', 'get', id, ...url])]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+groceries\\s+\\S+\\s+eggs…`));
    const listed = JSON.parse(listJson.stdout) as Note[];
    expect(listed.map((n) => [n.id, n.title, n.body])).toEqual([[id, 'groceries', 'eggs\nmilk']]);

    expect(shown.stdout).toContain('title    groceries');
    expect(shown.stdout.trimEnd().endsWith('eggs\nmilk')).toBe(true);

    expect((await cliInProcess(['notes', 'update', id, '--title', 'shopping', ...url])).stdout.trim()).toBe(`note ${id}: updated`);
    const got = JSON.parse((await cliInProcess(['notes', 'get', id, '--json', ...url])).stdout) as Note;
    expect(got).toMatchObject({ id, title: 'shopping', body: 'eggs\nmilk' });

    expect((await cliInProcess(['notes', 'delete', id, ...url])).stdout.trim()).toBe(`note ${id}: deleted`);
    expect((await cliInProcess(['notes', 'list', ...url])).stdout.trim()).toBe('no notes');
  });

  it('fails with exit 1 and PXC_ERR_UNKNOWN_NOTE for a missing note, with or without --json', async () => {
    const dp = await startDataProxy({ db: join(tempDir(), 'notes') });
    const [text, json] = await Promise.all([cliInProcess(['notes', 'get', 'no-such-id', '--url', dp.url]), cliInProcess(['notes', 'delete', 'no-such-id', '--json', '--url', dp.url])]);
    expect(text.code).toBe(1);
    expect(text.stderr.trim()).toBe('proxyctl: no note with id "no-such-id"');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'PXC_ERR_UNKNOWN_NOTE', message: 'no note with id "no-such-id"' } });
  });

  it('refuses update without --title or --body, and a malformed --url, as usage errors (exit 2)', async () => {
    const [update, bad] = await Promise.all([cliInProcess(['notes', 'update', 'x', '--url', 'http://127.0.0.1:1']), cliInProcess(['notes', 'list', '--url', 'ftp://host'])]);
    expect(update.code).toBe(2);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--url');
  });

  it('says which address it could not reach (exit 1)', async () => {
    const port = await freePort();
    const r = await cliInProcess(['notes', 'list', '--url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the data proxy at 127.0.0.1:${port} for ListNotes (ECONNREFUSED)`);
  });
});

describe('proxyctl notes through the agent', () => {
  it('finds the app serving the "notes" service by itself', async () => {
    const port = await freePort();
    const agent = await startInProcessAgent({
      logLevel: 'info',
      config: {
        apps: [{ name: 'notes', ports: [port] }],
        services: [{ name: 'notes', app: 'notes', command: [process.execPath, BIN, 'data-proxy', '--db', join(tempDir(), 'db')], ready: { kind: 'jsonrpc' }, ready_attempts: 100, ready_interval: 0.1, drain: 0.5 }],
      },
    });
    agents.push(agent);
    const created = await waitFor('notes create through the app', async () => {
      const r = await agent.cliInProcess(['notes', 'create', '--title', 'via app', '--body', 'b']);
      return r.code === 0 ? r : undefined;
    }, { timeoutMs: 30_000 });
    const id = created.stdout.trim();
    const listed = JSON.parse((await agent.cliInProcess(['notes', 'list', '--json'])).stdout) as Note[];
    expect(listed.map((n) => n.id)).toEqual([id]);
    // the same note, straight from the app's port
    const direct = JSON.parse((await cliInProcess(['notes', 'get', id, '--json', '--url', `http://127.0.0.1:${port}`])).stdout) as Note;
    expect(direct.title).toBe('via app');
  });

  it('points at --url when the agent is not running (exit 3)', async () => {
    const r = await cliInProcess(['notes', 'list', '--state-dir', tempDir()], { env: { PROXYCTL_SOCKET: '' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("or give the data proxy's address with --url");
  });
});
