import { subscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';

/**
 * A workaround for undici 7's uncatchable `assert(!this.paused)` in the HTTP/1 parser's
 * finish() (nodejs/undici#5360): when a response body applies backpressure (the reader is
 * behind: a part waiting to be made durable, a rate limit) and the server closes the
 * connection right after its last byte (HTTP/1.0, `Connection: close`, tinyproxy), the
 * socket's 'end' handler calls finish() on the paused parser and the assertion kills the
 * process. The fix upstream (nodejs/undici#5474) resumes the paused parser so it reaches the
 * end of the message; it ships with undici 8, which needs Node 22. Until then this does the
 * same: every byte was parsed already ('end' could not have come otherwise), so resuming the
 * parser completes the message (Content-Length, chunked) and the body is read to its end; a
 * body delimited by the close itself is then finished as before.
 *
 * Installed once, on the first connection (the parser class is only reachable through one).
 */

const PATCHED = Symbol('proxyctl: paused finish guarded');

/** What the patch touches of undici's HTTP/1 Parser (lib/dispatcher/client-h1.js). */
interface Parser {
  paused: boolean;
  /** 0 once the message completed. */
  statusCode: number;
  ptr: number | null;
  llhttp: { llhttp_resume(ptr: number): void };
  execute(chunk: Buffer): void;
}

const EMPTY = Buffer.alloc(0);
let installed = false;

export function guardPausedFinish(): void {
  if (installed) return;
  installed = true;
  let kParser: symbol | undefined;
  try {
    kParser = (createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kParser?: symbol }).kParser;
  } catch {
    return;
  }
  if (typeof kParser !== 'symbol') return;
  const parserKey = kParser;
  const onConnected = (message: unknown): void => {
    const socket = (message as { socket?: Record<symbol, unknown> } | null)?.socket;
    const parser = socket?.[parserKey] as object | undefined;
    if (!parser) return;
    const proto = Object.getPrototypeOf(parser) as { finish?: (this: Parser) => unknown; execute?: unknown; [PATCHED]?: boolean };
    if (proto[PATCHED] || typeof proto.finish !== 'function' || typeof proto.execute !== 'function') return;
    const finish = proto.finish;
    proto.finish = function (this: Parser) {
      if (this.paused && this.ptr !== null) {
        // As upstream: resume, and drive the parser past the body it already has: a
        // Content-Length or chunked message completes here (its socket is then destroyed).
        this.llhttp.llhttp_resume(this.ptr);
        this.paused = false;
        this.execute(EMPTY);
        if (this.statusCode === 0) return null;
        // A body delimited by the close (it paused again on the empty flush): finished below.
        if (this.paused && this.ptr !== null) {
          this.llhttp.llhttp_resume(this.ptr);
          this.paused = false;
        }
      }
      return finish.call(this);
    };
    proto[PATCHED] = true;
  };
  subscribe('undici:client:connected', onConnected);
}
