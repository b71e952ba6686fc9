import type { Socket } from 'node:net';

/**
 * One control connection: framing, ordering, backpressure and closing. What a
 * line means is the server's business (`ConnectionHandler`); this class
 * decides when lines are read and replies written.
 *
 * - Requests run concurrently; replies go out in the order the lines came.
 * - A line is parsed only while the unsent output is at most `maxUnsent`
 *   bytes and fewer than `maxInFlight` requests are unanswered (a batch
 *   counts as its requests); otherwise the socket is paused, so a client that
 *   writes and never reads costs a bounded amount of memory, not a reply per
 *   request it sent.
 * - A talk line is the connection's last request (as cvmfs_talk): input after
 *   it is read and dropped. So is input after a line longer than `maxLine`,
 *   which is answered with an error. The connection is ended (FIN) once every
 *   reply is written, and closed when the client closes its side (or goes
 *   idle). Reading to the end means a client still writing never hits EPIPE
 *   before it has read its reply.
 * - A client that half-closes (`printf 'reload\n' | socat - UNIX-CONNECT:…`)
 *   gets a reply for every line it sent, a last line without its newline
 *   included, then the FIN.
 */

export interface ControlRequest {
  /** Requests it counts for the in-flight cap: 1, or a batch's length. */
  readonly weight: number;
  /** The connection takes no request after this one (talk). */
  readonly last: boolean;
  /** The reply text with its newline, or null for none (notifications). Never rejects. */
  run(): Promise<string | null>;
}

export interface ConnectionHandler {
  /** Decodes one complete line (without its newline). */
  parse(line: Buffer): ControlRequest;
  /** The error reply to a line over the limit, by the line's first byte (dialect). */
  tooLong(firstByte: number | undefined): string;
}

export interface ConnectionLimits {
  maxLine: number;
  idleTimeoutMs: number;
  /** Requests answered but not yet written, or still running, per connection. */
  maxInFlight: number;
  /** Bytes of replies waiting in the socket's buffer above which reading stops. */
  maxUnsent: number;
}

/** Input dropped after the last request before the connection is cut instead of drained. */
export const DISCARD_LIMIT = 16 * 1024 * 1024;

const NEWLINE = 0x0a;
const TOO_LONG = Symbol('too long');

interface Slot {
  readonly weight: number;
  text: string | null;
  done: boolean;
}

export class ControlConnection {
  readonly #socket: Socket;
  readonly #handler: ConnectionHandler;
  readonly #limits: ConnectionLimits;
  /** Received, not yet parsed: `#chunks[0]` from `#head` on, then the rest. */
  #chunks: Buffer[] = [];
  #head = 0;
  #buffered = 0;
  /** Bytes from the start of the buffered input known to hold no newline. */
  #scanned = 0;
  /** Parsed, waiting for room in flight. */
  #held: ControlRequest | null = null;
  /** Replies in request order; the head is written as soon as it is done. */
  #slots: Slot[] = [];
  #inFlight = 0;
  #inputEnded = false;
  /** No more requests: a talk line or an over-long line was seen. */
  #closed = false;
  #discarded = 0;
  #ending = false;
  /** Not read now: its client does not read its replies, or it has too many requests in flight. */
  #paused = false;
  /** An event subscriber: not idle while it sends nothing. */
  #streaming = false;

  constructor(socket: Socket, handler: ConnectionHandler, limits: ConnectionLimits) {
    this.#socket = socket;
    this.#handler = handler;
    this.#limits = limits;
    socket.setTimeout(limits.idleTimeoutMs, () => this.#onIdle());
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      this.#inputEnded = true;
      if (this.#ending) socket.destroy(); // our FIN went first: both sides are done
      else this.#pump();
    });
    socket.on('drain', () => this.#pump());
    socket.on('error', () => socket.destroy());
  }

  get paused(): boolean {
    return this.#paused;
  }

  /**
   * The connection receives unsolicited lines (event notifications): a
   * client that sends nothing is not idle. Its FIN still ends the
   * connection (a half-closed socket cannot tell a client that left from one
   * that only stopped sending).
   */
  stream(on: boolean): void {
    this.#streaming = on;
  }

  /** Ends the connection after the replies in flight (agent shutdown). */
  end(): void {
    this.#streaming = false;
    this.#stopReading();
    this.#dropInput();
    this.#maybeEnd();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) {
      this.#discarded += chunk.length;
      if (this.#discarded > DISCARD_LIMIT) this.#socket.destroy();
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#pump();
  }

  #onIdle(): void {
    // The agent is still working on something, or the client waits for events: not the client's idleness.
    if (this.#streaming || this.#slots.some((s) => !s.done)) return;
    this.#socket.destroy();
  }

  /** Writes what is done, then parses and dispatches lines while there is room; pauses reading when there is not. */
  #pump(): void {
    const socket = this.#socket;
    this.#flush();
    let blocked = false;
    while (!this.#closed && !socket.destroyed) {
      if (socket.writableLength > this.#limits.maxUnsent) {
        blocked = true; // 'drain' pumps again
        break;
      }
      let request = this.#held;
      if (!request) {
        const line = this.#nextLine();
        if (line === null) break;
        if (line === TOO_LONG) {
          const reply = this.#handler.tooLong(this.#firstByte());
          this.#stopReading();
          this.#dropInput();
          this.#slots.push({ weight: 0, text: reply, done: true });
          this.#flush();
          break;
        }
        request = this.#handler.parse(line);
      }
      if (this.#inFlight > 0 && this.#inFlight + request.weight > this.#limits.maxInFlight) {
        this.#held = request; // a finished request pumps again
        blocked = true;
        break;
      }
      this.#held = null;
      this.#dispatch(request);
    }
    this.#paused = blocked;
    if (blocked) socket.pause();
    else if (!this.#closed) socket.resume();
    this.#maybeEnd();
  }

  #dispatch(request: ControlRequest): void {
    const slot: Slot = { weight: request.weight, text: null, done: false };
    this.#slots.push(slot);
    this.#inFlight += request.weight;
    if (request.last) {
      this.#stopReading();
      this.#dropInput();
    }
    request
      .run()
      .then(
        (text) => (slot.text = text),
        () => (slot.text = null),
      )
      .finally(() => {
        slot.done = true;
        this.#pump();
      });
  }

  /** Writes the finished replies at the head, in order; what is written leaves the in-flight count. */
  #flush(): void {
    const socket = this.#socket;
    while (this.#slots.length > 0 && this.#slots[0]!.done) {
      const slot = this.#slots.shift()!;
      this.#inFlight -= slot.weight;
      if (slot.text !== null && !socket.destroyed && socket.writable) socket.write(slot.text);
    }
  }

  #maybeEnd(): void {
    if (this.#ending || this.#slots.length > 0 || this.#held) return;
    const noMore = this.#closed || (this.#inputEnded && this.#buffered === 0);
    if (!noMore) return;
    this.#ending = true;
    const socket = this.#socket;
    if (socket.destroyed) return;
    // Our FIN after the last reply; the socket closes once the client has closed its side too.
    if (this.#inputEnded) socket.end(() => socket.destroy());
    else socket.end();
  }

  #stopReading(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = null;
    // Keep reading (and dropping) so a client still writing gets no EPIPE before it reads its reply.
    this.#socket.resume();
  }

  #dropInput(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#scanned = 0;
  }

  #firstByte(): number | undefined {
    return this.#chunks.length > 0 ? this.#chunks[0]![this.#head] : undefined;
  }

  /**
   * The next complete line without its newline; at the end of input, the
   * rest as a last line; null when no line is complete yet; TOO_LONG when the
   * line already exceeds `maxLine`.
   */
  #nextLine(): Buffer | null | typeof TOO_LONG {
    let offset = 0; // bytes of the buffered input before chunk i
    for (let i = 0; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      const from = i === 0 ? this.#head : 0;
      const length = chunk.length - from;
      if (offset + length <= this.#scanned) {
        offset += length;
        continue;
      }
      const start = from + Math.max(0, this.#scanned - offset);
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        offset += length;
        this.#scanned = offset;
        continue;
      }
      const lineLength = offset + (nl - from);
      if (lineLength > this.#limits.maxLine) return TOO_LONG;
      return this.#take(lineLength, 1);
    }
    if (this.#buffered > this.#limits.maxLine) return TOO_LONG;
    if (this.#inputEnded && this.#buffered > 0) return this.#take(this.#buffered, 0);
    return null;
  }

  /** Removes `length` bytes plus `skip` (the newline) from the input and returns the first `length`. */
  #take(length: number, skip: number): Buffer {
    const parts: Buffer[] = [];
    let need = length + skip;
    while (need > 0) {
      const chunk = this.#chunks[0]!;
      const available = chunk.length - this.#head;
      const n = Math.min(available, need);
      parts.push(chunk.subarray(this.#head, this.#head + n));
      need -= n;
      if (n === available) {
        this.#chunks.shift();
        this.#head = 0;
      } else {
        this.#head += n;
      }
    }
    this.#buffered -= length + skip;
    this.#scanned = 0;
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return all.subarray(0, length);
  }
}
