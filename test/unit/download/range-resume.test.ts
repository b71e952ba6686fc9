import { describe, expect, it } from 'vitest';
import { afterRangeNotSatisfiable, checkOffsetAgainstTotal, decideResponse, parseContentRange, resumeHeaders } from '../../../src/download/range-resume.js';

const none = { etag: null, lastModified: null };
const held = { etag: '"abc"', lastModified: 'Thu, 01 Jan 2026 00:00:01 GMT' };

describe('resume headers', () => {
  it('sends no Range for a job holding nothing', () => {
    expect(resumeHeaders(0, held)).toEqual({});
  });
  it('sends Range from the held byte count with the ETag as If-Range', () => {
    expect(resumeHeaders(4096, held)).toEqual({ range: 'bytes=4096-', 'if-range': '"abc"' });
  });
  it('falls back to Last-Modified when there is no strong ETag', () => {
    expect(resumeHeaders(10, { etag: 'W/"weak"', lastModified: 'Thu, 01 Jan 2026 00:00:01 GMT' })['if-range']).toBe('Thu, 01 Jan 2026 00:00:01 GMT');
    expect(resumeHeaders(10, { etag: null, lastModified: 'X' })['if-range']).toBe('X');
  });
  it('sends a bare Range when the server gave no validator', () => {
    expect(resumeHeaders(10, none)).toEqual({ range: 'bytes=10-' });
  });
});

describe('Content-Range', () => {
  it('parses a byte range with and without a total', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: null });
  });
  it('rejects garbage and inverted ranges', () => {
    expect(parseContentRange('bytes */1000')).toBeNull();
    expect(parseContentRange('bytes 9-1/10')).toBeNull();
    expect(parseContentRange(null)).toBeNull();
  });
});

describe('what a response means for the held bytes', () => {
  it('appends a 206 whose Content-Range starts at the held offset', () => {
    expect(decideResponse(100, held, 206, { 'content-range': 'bytes 100-999/1000', etag: '"abc"' })).toEqual({ kind: 'append', total: 1000 });
  });
  it('never appends a 206 starting elsewhere', () => {
    expect(decideResponse(100, held, 206, { 'content-range': 'bytes 0-999/1000' }).kind).toBe('retry-from-zero');
  });
  it('never appends a 206 of a file with another ETag', () => {
    expect(decideResponse(100, held, 206, { 'content-range': 'bytes 100-999/1000', etag: '"other"' }).kind).toBe('retry-from-zero');
  });
  it('restarts from zero on a 200 to a ranged request (range ignored)', () => {
    const d = decideResponse(100, held, 200, { 'content-length': '1000', etag: '"abc"' });
    expect(d).toMatchObject({ kind: 'restart', total: 1000 });
    expect(d.kind === 'restart' && d.reason).toMatch(/ignored/);
  });
  it('names a changed ETag as the reason for a restart', () => {
    const d = decideResponse(100, held, 200, { 'content-length': '1000', etag: '"new"' });
    expect(d.kind === 'restart' && d.reason).toMatch(/changed/);
  });
  it('takes a 200 from zero as the file, with its validators', () => {
    expect(decideResponse(0, none, 200, { 'content-length': '5', etag: '"e"', 'last-modified': 'L' })).toEqual({ kind: 'fresh', total: 5, validators: { etag: '"e"', lastModified: 'L' } });
  });
  it('asks for the size on a 416', () => {
    expect(decideResponse(100, held, 416, {}).kind).toBe('check-size');
  });
  it('leaves other statuses to the caller', () => {
    expect(decideResponse(0, none, 503, {})).toEqual({ kind: 'status', status: 503 });
    expect(decideResponse(0, none, 404, {})).toEqual({ kind: 'status', status: 404 });
  });
});

describe('after a 416', () => {
  it('is complete when the remote size equals the held bytes', () => {
    expect(afterRangeNotSatisfiable(1000, 1000)).toEqual({ kind: 'complete' });
  });
  it('fails when the held bytes exceed the remote file', () => {
    const v = afterRangeNotSatisfiable(2000, 1000);
    expect(v.kind === 'fail' && v.message).toMatch(/partial data larger than remote file/);
  });
  it('fails clearly when the size is unknown or larger', () => {
    expect(afterRangeNotSatisfiable(10, null).kind).toBe('fail');
    expect(afterRangeNotSatisfiable(10, 20).kind).toBe('fail');
  });
  it('flags held bytes beyond an announced total', () => {
    expect(checkOffsetAgainstTotal(11, 10)).toMatch(/larger than remote/);
    expect(checkOffsetAgainstTotal(10, 10)).toBeNull();
    expect(checkOffsetAgainstTotal(10, null)).toBeNull();
  });
});
