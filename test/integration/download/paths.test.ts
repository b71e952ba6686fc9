import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/agent.js';
import { closeOrigins, startOrigin } from '../../helpers/origin.js';
import { waitFor } from '../../helpers/wait.js';
import { closeHarnesses, startHarness } from './harness.js';
import { sha256File } from './helpers.js';

/**
 * Where a download may write, in a downloads dir others can write to too (issue 10, items 14
 * and 15): no symlink is followed into a file or out of the dir, and nothing is world-readable
 * while in progress.
 */

afterEach(async () => {
  await closeHarnesses();
  await closeOrigins();
});

/** A file only its owner may read, outside the downloads dir: what an attacker would aim at. */
function victim(): { path: string; content: string } {
  const path = join(tempDir('pxc-victim-'), 'root-only-file');
  writeFileSync(path, 'precious\n', { mode: 0o600 });
  return { path, content: 'precious\n' };
}

describe('download paths', () => {
  it('a planted <dest>.partial symlink makes the job fail and leaves its target unchanged', async () => {
    const origin = await startOrigin();
    origin.addFile('report.bin', 64 * 1024);
    const h = await startHarness({ downloads: { part_size: 16384 } });
    mkdirSync(h.dir, { recursive: true });
    const v = victim();
    symlinkSync(v.path, join(h.dir, 'report.bin.partial'));
    const id = await h.add({ url: origin.url('report.bin') });
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/report\.bin\.partial is a symbolic link; not written through/);
    expect(readFileSync(v.path, 'utf8')).toBe(v.content);
    expect(statSync(v.path).mode & 0o777).toBe(0o600);
    expect(existsSync(join(h.dir, 'report.bin'))).toBe(false);
    expect(origin.requests).toHaveLength(0);
  });

  it('refuses a destination under a symlinked subdirectory that leads out of downloads.dir, at add and at the start', async () => {
    const origin = await startOrigin();
    origin.addFile('x.bin', 1000);
    const outside = tempDir('pxc-outside-');
    const h = await startHarness({ downloads: { part_size: 16384 } });
    mkdirSync(h.dir, { recursive: true });
    symlinkSync(outside, join(h.dir, 'link'));
    await expect(h.add({ url: origin.url('x.bin'), dest: 'link/x.bin' })).rejects.toMatchObject({ code: 'PXC_ERR_BAD_DEST', message: expect.stringMatching(/leaves .* through a symbolic link/) });
    // A link swapped in after the job was accepted (while it waited in the queue) is caught when it starts.
    origin.addFile('blocker.bin', 256 * 1024);
    origin.switches.throttleBps = 128 * 1024;
    const blocker = await h.add({ url: origin.url('blocker.bin') });
    const id = await h.add({ url: origin.url('x.bin'), dest: 'later/x.bin' });
    symlinkSync(outside, join(h.dir, 'later'));
    await h.rpc('download.cancel', { id: blocker });
    const j = await h.wait(id);
    expect(j.state).toBe('failed');
    expect(j.error).toMatch(/through a symbolic link/);
    expect(existsSync(join(outside, 'x.bin'))).toBe(false);
    expect(existsSync(join(outside, 'x.bin.partial'))).toBe(false);
  });

  it('replaces a symlink at the destination with force, never writing through it', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('r.bin', 40 * 1024);
    const h = await startHarness({ downloads: { part_size: 16384 } });
    mkdirSync(h.dir, { recursive: true });
    const v = victim();
    symlinkSync(v.path, join(h.dir, 'r.bin'));
    await expect(h.add({ url: origin.url('r.bin') })).rejects.toMatchObject({ message: expect.stringMatching(/already exists/) });
    const id = await h.add({ url: origin.url('r.bin'), force: true });
    expect((await h.wait(id)).state).toBe('done');
    expect(lstatSync(join(h.dir, 'r.bin')).isFile()).toBe(true);
    expect(sha256File(join(h.dir, 'r.bin'))).toBe(f.sha256);
    expect(readFileSync(v.path, 'utf8')).toBe(v.content);
  });

  it('takes "..foo.bin" as a name, and refuses "sub/dir/"', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('..foo.bin', 1000);
    const h = await startHarness({ downloads: { part_size: 16384 } });
    const id = await h.add({ url: origin.url('..foo.bin') });
    expect((await h.wait(id)).state).toBe('done');
    expect(sha256File(join(h.dir, '..foo.bin'))).toBe(f.sha256);
    await expect(h.add({ url: origin.url('..foo.bin'), dest: 'sub/dir/' })).rejects.toMatchObject({ message: expect.stringMatching(/names a directory/) });
  });

  it('keeps the partial file 0600 and the downloads dir 0700 (made private when it was not); the finished file is 0644', async () => {
    const origin = await startOrigin();
    const f = origin.addFile('m.bin', 512 * 1024);
    origin.switches.throttleBps = 256 * 1024;
    const stateDir = tempDir('pxc-dl-');
    mkdirSync(join(stateDir, 'downloads'), { mode: 0o755 });
    chmodSync(join(stateDir, 'downloads'), 0o755);
    const h = await startHarness({ downloads: { part_size: 16384 } }, stateDir);
    expect(statSync(h.dir).mode & 0o777).toBe(0o700);
    const id = await h.add({ url: origin.url('m.bin'), sha256: f.sha256 });
    await waitFor('the partial file', () => existsSync(join(h.dir, 'm.bin.partial')));
    expect(statSync(join(h.dir, 'm.bin.partial')).mode & 0o777).toBe(0o600);
    origin.switches.throttleBps = 0;
    expect((await h.wait(id)).state).toBe('done');
    expect(statSync(join(h.dir, 'm.bin')).mode & 0o777).toBe(0o644);
    // A subdirectory made for a destination is private too.
    const id2 = await h.add({ url: origin.url('m.bin'), dest: 'deep/er/m.bin' });
    expect((await h.wait(id2)).state).toBe('done');
    expect(statSync(join(h.dir, 'deep')).mode & 0o777).toBe(0o700);
  });
});
