import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDownloadUrl, resolveDestination } from '../../../src/download/destination.js';

const dir = mkdtempSync(join(tmpdir(), 'pxc-dest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const rules = { dir, allowAbsolute: false };
const url = (s: string) => parseDownloadUrl(s);

describe('download URLs', () => {
  it('accepts http and https', () => {
    expect(url('http://h/a').protocol).toBe('http:');
    expect(url('https://h/a').protocol).toBe('https:');
  });
  it('refuses malformed URLs and other schemes with PXC_ERR_BAD_URL', () => {
    expect(() => url('not a url')).toThrow(expect.objectContaining({ code: 'PXC_ERR_BAD_URL' }));
    expect(() => url('ftp://h/a')).toThrow(/unsupported scheme "ftp"/);
    expect(() => url('file:///etc/passwd')).toThrow(/unsupported scheme/);
  });
});

describe('destinations', () => {
  it('names the file after the URL under downloads.dir', () => {
    expect(resolveDestination(url('http://h/x/shard%201.tar?x=1'), undefined, rules, false)).toBe(join(dir, 'shard 1.tar'));
  });
  it('resolves a relative dest under downloads.dir', () => {
    expect(resolveDestination(url('http://h/a'), 'sub/b.bin', rules, false)).toBe(join(dir, 'sub/b.bin'));
  });
  it('refuses a relative dest that leaves downloads.dir', () => {
    expect(() => resolveDestination(url('http://h/a'), '../escape', rules, false)).toThrow(expect.objectContaining({ code: 'PXC_ERR_BAD_DEST' }));
  });
  it('refuses an absolute dest outside downloads.dir unless allowed', () => {
    expect(() => resolveDestination(url('http://h/a'), '/elsewhere/a', rules, false)).toThrow(/downloads.allow_absolute/);
    expect(resolveDestination(url('http://h/a'), '/elsewhere/a', { dir, allowAbsolute: true }, false)).toBe('/elsewhere/a');
  });
  it('refuses a URL without a file name when no dest is given', () => {
    expect(() => resolveDestination(url('http://h/'), undefined, rules, false)).toThrow(/give a destination/);
  });
  it('refuses a destination ending in "/" (a directory), not naming a file "dir"', () => {
    expect(() => resolveDestination(url('http://h/a.bin'), 'sub/dir/', rules, false)).toThrow(/names a directory; give a file name \(e\.g\. sub\/dir\/a\.bin\)/);
    expect(() => resolveDestination(url('http://h/a.bin'), 'sub/..', rules, false)).toThrow(/names a directory/);
  });
  it('takes "..foo.bin" as a file name, not a way out', () => {
    expect(resolveDestination(url('http://h/a'), '..foo.bin', rules, false)).toBe(join(dir, '..foo.bin'));
    expect(resolveDestination(url('http://h/..foo.bin'), undefined, rules, false)).toBe(join(dir, '..foo.bin'));
  });
  it('refuses a destination whose directory is a symlink leading out of downloads.dir', () => {
    const outside = mkdtempSync(join(tmpdir(), 'pxc-outside-'));
    try {
      symlinkSync(outside, join(dir, 'link'));
      mkdirSync(join(dir, 'real'));
      symlinkSync(join(dir, 'real'), join(dir, 'inner'));
      expect(() => resolveDestination(url('http://h/a'), 'link/x.bin', rules, false)).toThrow(/leaves .* through a symbolic link/);
      expect(() => resolveDestination(url('http://h/a'), 'link/new/deeper/x.bin', rules, false)).toThrow(/through a symbolic link/);
      // A link that stays inside is fine.
      expect(resolveDestination(url('http://h/a'), 'inner/x.bin', rules, false)).toBe(join(dir, 'inner/x.bin'));
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
  it('counts a symlink (even a dangling one) at the destination as existing', () => {
    symlinkSync('/nonexistent/target', join(dir, 'dangling'));
    expect(() => resolveDestination(url('http://h/dangling'), undefined, rules, false)).toThrow(/already exists/);
  });
  it('never overwrites an existing file unless forced', () => {
    writeFileSync(join(dir, 'exists'), 'x');
    expect(() => resolveDestination(url('http://h/exists'), undefined, rules, false)).toThrow(/already exists/);
    expect(resolveDestination(url('http://h/exists'), undefined, rules, true)).toBe(join(dir, 'exists'));
  });
});
