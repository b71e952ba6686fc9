import { describe, expect, it } from 'vitest';
import { parseInputFile } from '../../../src/download/input-file.js';

describe('aria2 input files', () => {
  it('reads one job per URL line, mirrors on one line, options indented below', () => {
    const jobs = parseInputFile(
      [
        '# comment',
        'http://a/f.iso\thttp://b/f.iso',
        '  dest=isos/f.iso',
        `  sha256=${'a'.repeat(64)}`,
        '  header=Authorization: Bearer x',
        '  header=X-Other: y',
        '  split=4',
        '',
        'https://c/g.bin',
        '  dir=sub',
        `  checksum=sha-256=${'B'.repeat(64)}`,
        '  max-download-limit=500K',
      ].join('\n'),
    );
    expect(jobs).toEqual([
      { line: 2, urls: ['http://a/f.iso', 'http://b/f.iso'], dest: 'isos/f.iso', sha256: 'a'.repeat(64), headers: ['Authorization: Bearer x', 'X-Other: y'], connections: 4 },
      { line: 9, urls: ['https://c/g.bin'], dest: 'sub/g.bin', sha256: 'B'.repeat(64), headers: [], max_rate: '500K' },
    ]);
  });

  it('names the file and line of what it cannot read', () => {
    expect(() => parseInputFile('  dest=x\n', 'jobs.txt')).toThrow('jobs.txt:1: an option line before any URL line');
    expect(() => parseInputFile('http://a/x\n  speed=fast\n', 'jobs.txt')).toThrow(/^jobs\.txt:2: unknown option "speed"/);
    expect(() => parseInputFile('ftp://a/x\n', 'jobs.txt')).toThrow('jobs.txt:1: "ftp://a/x" is not an http(s) URL');
    expect(() => parseInputFile('http://a/x\n  split=99\n', 'jobs.txt')).toThrow('jobs.txt:2: split must be an integer from 1 to 16');
    expect(() => parseInputFile('# nothing\n', 'jobs.txt')).toThrow('jobs.txt: no URL in it');
  });
});
