import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanupAgents, runCli, tempDir } from '../../helpers/agent.js';
import { closeInProcessAgents, startInProcessAgent, type InProcessAgent } from '../../helpers/in-process-agent.js';
import { cleanupNginx, hasNginx, startNginx, type Nginx } from '../../helpers/nginx.js';
import { waitFor } from '../../helpers/wait.js';
import { add, info, sha256File, waitJob } from './helpers.js';

/** A raw JSON-RPC subscriber on the agent's socket, as an aria2-style client would be. */
async function subscribe(socket: string, topics: string[]): Promise<{ events: Array<Record<string, unknown>>; close(): void }> {
  const s = createConnection(socket);
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  const events: Array<Record<string, unknown>> = [];
  let buf = '';
  let subscribed: () => void = () => undefined;
  const ok = new Promise<void>((r) => (subscribed = r));
  s.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
      const msg = JSON.parse(buf.slice(0, nl)) as { id?: number; method?: string; params?: Record<string, unknown> };
      buf = buf.slice(nl + 1);
      if (msg.id === 1) subscribed();
      else if (msg.method === 'event') events.push(msg.params!);
    }
  });
  s.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.subscribe', params: { topics } })}\n`);
  await ok;
  return { events, close: () => s.destroy() };
}

/**
 * `proxyctl download …` as a user runs it: one agent (in-process) and one nginx for the file.
 * The CLI runs in-process where its output and exit codes are under test; add --wait (lines
 * without a TTY), watch and Ctrl-C run it as a real process.
 */

/** `proxyctl download watch ARGS`, running (its output read as it comes). */
function watchCli(args: string[]): { stdout(): string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'download', 'watch', ...args], { env: { ...process.env, NO_COLOR: '1', PROXYCTL_SOCKET: agent.socket }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.resume();
  return { stdout: () => out, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

const PART = 256 * 1024;
let agent: InProcessAgent;
let n: Nginx;

beforeAll(async () => {
  n = await startNginx({ limitRate: 1024 * 1024 });
  agent = await startInProcessAgent({ config: { downloads: { part_size: PART, max_active: 1 }, proxy: { health_check: false } } });
});

afterAll(async () => {
  await closeInProcessAgents();
  await cleanupAgents();
  await cleanupNginx();
});

describe.skipIf(!hasNginx())('proxyctl download', () => {
  it('add URL1 URL2 --connections 4 --sha256 H --wait finishes byte-exact, printing the id, then lines (no TTY), the last one the outcome', async () => {
    const f = n.addFile('a/w.bin', 3 * 1024 * 1024);
    n.addFile('b/w.bin', f.data);
    const r = await agent.cli(['download', 'add', n.url('a/w.bin'), n.url('b/w.bin'), '--connections', '4', '--sha256', f.sha256, '--wait']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const id = Number(lines[0]);
    expect(lines.at(-1)).toMatch(new RegExp(`^download ${id}: done, 3\\.00 MiB in \\S+ → .*w\\.bin$`));
    expect(sha256File(join(agent.stateDir, 'downloads', 'w.bin'))).toBe(f.sha256);
    const j = await info(agent, id);
    expect(j.sources.map((s) => s.state)).toEqual(['usable', 'usable']);
    expect(j.sources[0]!.bytes + j.sources[1]!.bytes).toBe(f.data.length);
    const shown = await agent.cli(['download', 'info', String(id)]);
    expect(shown.stdout).toMatch(/connections\s+4/);
    expect(shown.stdout).toMatch(new RegExp(`${n.url('b/w.bin').replace(/[./]/g, '\\$&')}\\s+usable\\s+\\d`));
  });

  it('publishes download.state for every change and download.progress while the job runs, on the raw socket', async () => {
    n.addFile('ev.bin', 3 * 1024 * 1024);
    const sub = await subscribe(agent.socket, ['download']);
    try {
      const r = await agent.cliInProcess(['download', 'add', n.url('limited/ev.bin'), '--connections', '1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const id = (JSON.parse(r.stdout) as { id: number }).id;
      await waitFor('the done event', () => sub.events.some((e) => e.topic === 'download.state' && e.id === id && e.state === 'done'), { timeoutMs: 20_000 });
      const mine = sub.events.filter((e) => e.id === id);
      const states = mine.filter((e) => e.topic === 'download.state');
      expect(states.map((e) => [e.previous, e.state])).toEqual([[null, 'queued'], ['queued', 'active'], ['active', 'verifying'], ['verifying', 'done']]);
      expect(states[0]).toMatchObject({ url: n.url('limited/ev.bin'), dest: join(agent.stateDir, 'downloads', 'ev.bin'), error: null });
      const progress = mine.filter((e) => e.topic === 'download.progress');
      expect(progress.length).toBeGreaterThanOrEqual(1);
      expect(progress.every((e) => e.total === 3 * 1024 * 1024 && (e.rate as number) >= 0)).toBe(true);
      const bytes = progress.map((e) => e.bytes as number);
      expect(bytes).toEqual([...bytes].sort((a, b) => a - b));
      // The last progress comes before the job leaves active; seq numbers only grow.
      expect(mine.indexOf(progress.at(-1)!)).toBeLessThan(mine.indexOf(states[2]!));
      const seqs = mine.map((e) => e.seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    } finally {
      sub.close();
    }
  });

  it('add --wait exits 1 with the reason when the job fails', async () => {
    const r = await agent.cliInProcess(['download', 'add', n.url('nothing'), '--wait']);
    expect(r.code).toBe(1);
    // The error, once: on stderr, not again among the watch's lines.
    expect(r.stderr).toMatch(/^proxyctl: download \d+: failed: HTTP 404 from 127\.0\.0\.1:\d+$/m);
    expect(`${r.stdout}${r.stderr}`.match(/HTTP 404/g)).toHaveLength(1);
  });

  it('watch says a job waits for a free slot, and ends (exit 1) when the job it watches is paused, saying how to resume it', async () => {
    // Slow enough (a minute at limit_rate) to be running whatever the load; it is paused, then cancelled.
    n.addFile('slow.bin', 64 * 1024 * 1024);
    n.addFile('next.bin', 1000);
    const busy = await add(agent, { url: n.url('limited/slow.bin') });
    const waiting = await add(agent, { url: n.url('next.bin') });
    const watch = watchCli([String(busy), String(waiting)]);
    // The deadline covers the CLI's start on a loaded machine.
    await waitFor('the waiting line', () => watch.stdout().includes(`download ${waiting}: queued`), { timeoutMs: 60_000 });
    await agent.rpc('download.pause', { id: busy });
    expect(await watch.exited).toBe(1);
    expect(watch.stdout()).toMatch(new RegExp(`^download ${waiting}: queued, waiting for a free slot \\(downloads\\.max_active\\)$`, 'm'));
    expect(watch.stdout()).toMatch(new RegExp(`^download ${busy}: paused at [\\d.]+ \\S+ \\([\\d.]+%\\); continue it with: proxyctl download resume ${busy}$`, 'm'));
    expect(watch.stdout()).toMatch(new RegExp(`^download ${waiting}: done, `, 'm'));
    await agent.rpc('download.cancel', { id: busy });
  }, 120_000);

  it('Ctrl-C during add --wait stops the watch, says the job keeps running and how to stop it', async () => {
    n.addFile('c.bin', 8 * 1024 * 1024);
    const child = spawn(process.execPath, [BIN, 'download', 'add', n.url('limited/c.bin'), '--wait'], { env: { ...process.env, NO_COLOR: '1', PROXYCTL_SOCKET: agent.socket }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const id = Number(await waitFor('the job id', () => /^(\d+)$/m.exec(stdout)?.[1], { timeoutMs: 60_000 }));
    await waitJob(agent, id, (j) => j.bytes > 0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(new RegExp(`proxyctl: stopped watching; download ${id} keeps running in the agent \\(stop with: proxyctl download pause ${id}, or cancel ${id}\\)`));
    expect((await info(agent, id)).state).toBe('active');
    await agent.rpc('download.cancel', { id });
  });

  it('add -i FILE queues the jobs of an aria2 input file, the flags applying to each; a bad line is named and nothing is queued', async () => {
    const f = n.addFile('i/one.bin', 300 * 1024);
    const g = n.addFile('i/two.bin', 200 * 1024);
    n.addFile('j/two.bin', g.data);
    const file = join(agent.stateDir, 'jobs.txt');
    writeFileSync(file, `# two jobs\n${n.url('i/one.bin')}\n  dest=input/one.bin\n  sha256=${f.sha256}\n\n${n.url('i/two.bin')}\t${n.url('j/two.bin')}\n  out=input/two.bin\n  checksum=sha-256=${g.sha256}\n  header=X-Token: abc\n`);
    const before = (await agent.rpc<unknown[]>('download.list', {})).length;
    const r = await agent.cliInProcess(['download', 'add', '-i', file, '--connections', '2', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256File(join(agent.stateDir, 'downloads', 'input/one.bin'))).toBe(f.sha256);
    expect(sha256File(join(agent.stateDir, 'downloads', 'input/two.bin'))).toBe(g.sha256);
    const jobs = await agent.rpc<Array<{ connections: number; headers: string[]; sources: unknown[] }>>('download.list', {});
    expect(jobs.slice(before).map((j) => [j.connections, j.headers, j.sources.length])).toEqual([
      [2, [], 1],
      [2, ['X-Token'], 2],
    ]);

    const badFile = join(agent.stateDir, 'bad-jobs.txt');
    writeFileSync(badFile, `${n.url('i/one.bin')}\n  dest=again.bin\n${n.url('i/two.bin')}\n  dest=../escape.bin\n`);
    const usageFile = join(agent.stateDir, 'usage-jobs.txt');
    writeFileSync(usageFile, `${n.url('i/one.bin')}\n  speed=fast\n`);
    const [bad, usage] = await Promise.all([agent.cliInProcess(['download', 'add', '-i', badFile]), agent.cliInProcess(['download', 'add', '-i', usageFile])]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^proxyctl: ${badFile.replace(/[./]/g, '\\$&')}:3: destination "\\.\\./escape\\.bin" leaves`, 'm'));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage-jobs\.txt:2: unknown option "speed"/);
    expect((await agent.rpc<unknown[]>('download.list', {})).length).toBe(before + 2);
  });

  it('bad input: exit 2 for what the CLI checks, exit 1 for what the agent refuses, nothing queued', async () => {
    const before = (await agent.rpc<unknown[]>('download.list', {})).length;
    // The agent's own checks are in queue.test.ts; these are the CLI's, and the way a refusal comes back.
    const cases: Array<[string[], number, RegExp]> = [
      [['download', 'add', 'http://h/x', '--sha256', 'abc'], 2, /--sha256: must be 64 hex digits/],
      [['download', 'add'], 2, /give a URL \(more URLs are mirrors of the same file\), or --input-file FILE/],
      [['download', 'add', '-i', '/nonexistent/jobs.txt'], 2, /--input-file \/nonexistent\/jobs\.txt: cannot read \(ENOENT\)/],
      [['download', 'info', 'abc'], 2, /job id must be a positive integer \(got "abc"\)/],
      [['download', 'add', 'ftp://h/x'], 1, /unsupported scheme "ftp"/],
      [['download', 'add', 'http://h/x', '--dest', 'sub/dir/', '--max-rate', '1M'], 1, /names a directory/],
    ];
    // Independent runs: at once.
    const results = await Promise.all(cases.map(([args]) => agent.cliInProcess(args)));
    for (const [i, [args, code, msg]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(msg);
    }
    expect((await agent.rpc<unknown[]>('download.list', {})).length).toBe(before);
  });

  it('agent start refuses a config naming downloads.concurrency, saying it is now downloads.max_active', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ downloads: { concurrency: 2 } }));
    const r = await runCli(['agent', 'start', '--state-dir', dir, '--config', join(dir, 'config.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/downloads\.concurrency: renamed to downloads\.max_active \(jobs downloading at once\); connections per job are downloads\.connections/);
  });

  it('pause, resume, cancel and retry say "download N: STATE"; --json prints the new state; list and info say DIRECT as --json does', async () => {
    n.addFile('pr.bin', 64 * 1024 * 1024);
    const id = await add(agent, { url: n.url('limited/pr.bin') });
    expect((await agent.cliInProcess(['download', 'pause', String(id)])).stdout).toBe(`download ${id}: paused\n`);
    expect(JSON.parse((await agent.cliInProcess(['download', 'resume', String(id), '--json'])).stdout)).toEqual({ jobs: [id] });
    const cancelled = await agent.cliInProcess(['download', 'cancel', String(id), '--json']);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id, state: 'cancelled' });
    const failed = await waitJob(agent, await add(agent, { url: n.url('missing.bin') }), (j) => j.state === 'failed');
    const retried = await agent.cliInProcess(['download', 'retry', String(failed.id)]);
    expect(retried.stdout).toMatch(new RegExp(`^download ${failed.id}: (queued|active)\\n$`));
    await waitJob(agent, failed.id, (j) => j.state === 'failed');
    expect(JSON.parse((await agent.cliInProcess(['download', 'retry', String(failed.id), '--json'])).stdout)).toMatchObject({ id: failed.id, state: expect.stringMatching(/^(queued|active)$/) });
    // A finished direct download: DIRECT in both forms; started_at set, elapsed counted from it.
    n.addFile('small.bin', 1000);
    const done = await waitJob(agent, await add(agent, { url: n.url('small.bin') }));
    expect(done.proxy).toBe('DIRECT');
    expect(Date.parse(done.started_at!)).toBeGreaterThanOrEqual(Date.parse(done.created_at));
    expect((await agent.cliInProcess(['download', 'info', String(done.id)])).stdout).toMatch(/^proxy\s+DIRECT$/m);
    expect((await agent.cliInProcess(['download', 'list'])).stdout).toMatch(new RegExp(`^${done.id}\\s.*\\sDIRECT\\s`, 'm'));
  });

  it('purge removes ended jobs; --json prints what the socket returned', async () => {
    const listed = await agent.rpc<Array<{ id: number; state: string }>>('download.list', {});
    const ended = listed.filter((j) => ['done', 'failed', 'cancelled'].includes(j.state)).map((j) => j.id);
    expect(ended.length).toBeGreaterThan(0);
    const r = await agent.cliInProcess(['download', 'purge', '--finished', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ jobs: ended });
    expect((await agent.cliInProcess(['download', 'purge', String(ended[0])])).stderr).toMatch(new RegExp(`no download job ${ended[0]}`));
    expect((await agent.cliInProcess(['download', 'purge'])).code).toBe(2);
  });
});
