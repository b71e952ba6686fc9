import { constants } from 'node:fs';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { ProxyctlError } from '../errors.js';

/**
 * `<dest>.partial`: the bytes of a job in progress, written at their offsets
 * (pwritev), read back by the hash workers through the same descriptor.
 *
 * It is never reached through a symlink and never shared: a new one is created
 * with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (so a link planted at the path,
 * or a file someone else made, makes the job fail instead of being written
 * through), and an existing one is only reopened (O_NOFOLLOW) when it is a
 * regular file of ours with one link.
 */

const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

export class PartialFile {
  readonly path: string;
  #fh: FileHandle;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  /** The descriptor, for the hash workers (valid until close()). */
  get fd(): number {
    return this.#fh.fd;
  }

  /**
   * A new empty file. A regular file of ours left at the path (a crash before its
   * first part was recorded) is removed first; anything else there is refused.
   */
  static async create(path: string): Promise<PartialFile> {
    const st = await lstat(path).catch(() => null);
    if (st) {
      checkOurs(path, st);
      await unlink(path);
    }
    const fh = await open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600).catch((err: NodeJS.ErrnoException) => {
      throw refusal(path, err);
    });
    return new PartialFile(path, fh);
  }

  /** The existing file, or null when there is none. */
  static async reopen(path: string): Promise<PartialFile | null> {
    let fh: FileHandle;
    try {
      fh = await open(path, O_RDWR | O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw refusal(path, err as NodeJS.ErrnoException);
    }
    try {
      checkOurs(path, await fh.stat());
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new PartialFile(path, fh);
  }

  /** Writes the buffers one after another from `position` (short writes continued). */
  async write(buffers: Buffer[], position: number): Promise<void> {
    let pos = position;
    let bufs = buffers;
    for (;;) {
      const want = bufs.reduce((n, b) => n + b.length, 0);
      const { bytesWritten } = await this.#fh.writev(bufs, pos);
      if (bytesWritten >= want) return;
      pos += bytesWritten;
      bufs = skip(bufs, bytesWritten);
    }
  }

  /** Reads `length` bytes at `position` (fewer at the end of the file). */
  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.#fh.read(buf, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  datasync(): Promise<void> {
    return this.#fh.datasync();
  }

  sync(): Promise<void> {
    return this.#fh.sync();
  }

  async size(): Promise<number> {
    return (await this.#fh.stat()).size;
  }

  /** Bytes the file occupies on disk (holes excluded). */
  async allocated(): Promise<number> {
    const st = await this.#fh.stat();
    return Math.min(st.size, st.blocks * 512);
  }

  truncate(length: number): Promise<void> {
    return this.#fh.truncate(length);
  }

  chmod(mode: number): Promise<void> {
    return this.#fh.chmod(mode);
  }

  async close(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
  }

  /** Closes and removes the file (unlink never follows a link: a path swapped for one loses the link only). */
  async discard(): Promise<void> {
    await this.close();
    await unlink(this.path).catch(() => undefined);
  }
}

function checkOurs(path: string, st: { isFile(): boolean; isSymbolicLink?(): boolean; uid: number; nlink: number }): void {
  const uid = process.geteuid?.() ?? st.uid;
  if (st.isSymbolicLink?.()) throw new ProxyctlError('PXC_ERR_BAD_DEST', `${path} is a symbolic link; not written through (remove it to download here)`);
  if (!st.isFile()) throw new ProxyctlError('PXC_ERR_BAD_DEST', `${path} exists and is not a regular file`);
  if (st.uid !== uid) throw new ProxyctlError('PXC_ERR_BAD_DEST', `${path} belongs to uid ${st.uid}, not to the agent (uid ${uid}); not touched`);
  if (st.nlink !== 1) throw new ProxyctlError('PXC_ERR_BAD_DEST', `${path} has ${st.nlink} hard links; not written through`);
}

function refusal(path: string, err: NodeJS.ErrnoException): Error {
  if (err.code === 'ELOOP') return new ProxyctlError('PXC_ERR_BAD_DEST', `${path} is a symbolic link; not written through (remove it to download here)`, { cause: err });
  if (err.code === 'EEXIST') return new ProxyctlError('PXC_ERR_BAD_DEST', `${path} appeared while the download was starting; not touched`, { cause: err });
  return err;
}

function skip(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let left = n;
  for (const b of bufs) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
