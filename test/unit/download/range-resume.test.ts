import { describe, expect, it } from 'vitest';
import { afterRangeNotSatisfiable, checkOffsetAgainstTotal, decideResponse, parseContentRange, rangeHeaders } from '../../../src/download/range-resume.js';

const none = { etag: null, lastModified: null };
const held = { etag: '"abc"', lastModified: 'Thu, 01 Jan 2026 00:00:01 GMT' };

describe('range headers', () => {
  it('sends no Range for the whole file', () => {
    expect(rangeHeaders({ start: 0, end: null }, held)).toEqual({});
  });
  it('sends an open Range from the held byte count with the ETag as If-Range', () => {
    expect(rangeHeaders({ start: 4096, end: null }, held)).toEqual({ range: 'bytes=4096-', 'if-range': '"abc"' });
  });
  it('asks for one part as a closed range (the last byte included)', () => {
    expect(rangeHeaders({ start: 0, end: 1024 }, none)).toEqual({ range: 'bytes=0-1023' });
    expect(rangeHeaders({ start: 1024, end: 2048 }, held)).toEqual({ range: 'bytes=1024-2047', 'if-range': '"abc"' });
  });
  it('falls back to Last-Modified when there is no strong ETag', () => {
    expect(rangeHeaders({ start: 10, end: null }, { etag: 'W/"weak"', lastModified: 'Thu, 01 Jan 2026 00:00:01 GMT' })['if-range']).toBe('Thu, 01 Jan 2026 00:00:01 GMT');
    expect(rangeHeaders({ start: 10, end: null }, { etag: null, lastModified: 'X' })['if-range']).toBe('X');
  });
  it('sends a bare Range when the server gave no validator', () => {
    expect(rangeHeaders({ start: 10, end: null }, none)).toEqual({ range: 'bytes=10-' });
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
  const from100 = { start: 100, end: null };
  it('writes a 206 whose Content-Range starts where asked', () => {
    expect(decideResponse(from100, held, 206, { 'content-range': 'bytes 100-999/1000', etag: '"abc"' })).toEqual({ kind: 'append', total: 1000, validators: { etag: '"abc"', lastModified: null } });
  });
  it('never writes a 206 starting elsewhere', () => {
    expect(decideResponse(from100, held, 206, { 'content-range': 'bytes 0-999/1000' }).kind).toBe('mismatch');
  });
  it('never writes a 206 of a file with another ETag', () => {
    expect(decideResponse(from100, held, 206, { 'content-range': 'bytes 100-999/1000', etag: '"other"' }).kind).toBe('mismatch');
  });
  it('takes a 200 to a ranged request as the whole file (range ignored)', () => {
    const d = decideResponse({ start: 100, end: 200 }, held, 200, { 'content-length': '1000', etag: '"abc"' });
    expect(d).toMatchObject({ kind: 'whole-file', total: 1000, changed: false });
    expect(d.kind === 'whole-file' && d.reason).toMatch(/ignored "Range: bytes=100-199"/);
  });
  it('names a changed ETag as the reason', () => {
    const d = decideResponse(from100, held, 200, { 'content-length': '1000', etag: '"new"' });
    expect(d).toMatchObject({ kind: 'whole-file', changed: true });
    expect(d.kind === 'whole-file' && d.reason).toMatch(/changed/);
  });
  it('takes a 200 to a request without a range as the file, with its validators', () => {
    expect(decideResponse({ start: 0, end: null }, none, 200, { 'content-length': '5', etag: '"e"', 'last-modified': 'L' })).toEqual({ kind: 'fresh', total: 5, validators: { etag: '"e"', lastModified: 'L' } });
  });
  it('reports a 416', () => {
    expect(decideResponse(from100, held, 416, {}).kind).toBe('not-satisfiable');
  });
  it('leaves other statuses to the router', () => {
    expect(decideResponse({ start: 0, end: null }, none, 503, {})).toEqual({ kind: 'status', status: 503 });
    expect(decideResponse({ start: 0, end: null }, none, 404, {})).toEqual({ kind: 'status', status: 404 });
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
