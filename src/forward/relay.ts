import type { Socket } from 'node:net';
import type { Counter } from '../stats/registry.js';
import { SCAN_OK, SCAN_TOO_LONG, type FooScanner } from './foo-scanner.js';

/**
 * One direction of a relayed connection: src → dst with backpressure (a full
 * dst pauses src until it drains), half-close (src's end ends dst's write
 * side) and byte counting. Handlers are bound once per connection, never per
 * chunk. In foo mode the scanner sees each chunk before it is forwarded,
 * unchanged.
 */
export class Pipe {
  readonly #src: Socket;
  readonly #dst: Socket;
  readonly #appBytes: Counter;
  readonly #targetBytes: Counter;
  readonly #scanner: FooScanner | null;
  readonly #onClose: (reason: string) => void;

  constructor(src: Socket, dst: Socket, appBytes: Counter, targetBytes: Counter, scanner: FooScanner | null, onClose: (reason: string) => void) {
    this.#src = src;
    this.#dst = dst;
    this.#appBytes = appBytes;
    this.#targetBytes = targetBytes;
    this.#scanner = scanner;
    this.#onClose = onClose;
    src.on('data', this.#onData);
    src.on('end', this.#onEnd);
    dst.on('drain', this.#onDrain);
    // The client may have sent its FIN (and no data) while the target was being connected.
    if (src.readableEnded) dst.end();
  }

  readonly #onData = (chunk: Buffer): void => {
    const n = chunk.length;
    this.#appBytes.value += n;
    this.#targetBytes.value += n;
    if (this.#scanner !== null) {
      const verdict = this.#scanner.scan(chunk);
      if (verdict !== SCAN_OK) {
        if (verdict === SCAN_TOO_LONG) this.#onClose('foo line too long');
        else this.#closeAfter(chunk.subarray(0, verdict));
        return;
      }
    }
    if (!this.#dst.write(chunk)) this.#src.pause();
  };

  readonly #onDrain = (): void => {
    this.#src.resume();
  };

  readonly #onEnd = (): void => {
    this.#dst.end();
  };

  /** on_invalid=close: forward what came before the bad line, then close both sides. */
  #closeAfter(prefix: Buffer): void {
    this.#src.off('data', this.#onData);
    this.#src.destroy();
    const dst = this.#dst;
    dst.end(prefix, () => dst.destroy());
  }
}
