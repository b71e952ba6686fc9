import { stat, statfs } from 'node:fs/promises';
import { ProxyctlError } from '../errors.js';

/** Bytes a job still has to put somewhere: `bytes` more in `dir`. */
export interface SpaceNeed {
  dir: string;
  bytes: number;
}

/**
 * Fails with PXC_ERR_NO_SPACE unless every need fits, needs on one filesystem
 * added up. The needs count only what is still to come: the bytes a job
 * already holds (in its partial file or its database rows) take no more room.
 */
export async function checkSpace(needs: readonly SpaceNeed[]): Promise<void> {
  const byDev = new Map<number, { dir: string; bytes: number; free: number }>();
  for (const need of needs) {
    if (need.bytes <= 0) continue;
    const [st, fs] = await Promise.all([stat(need.dir), statfs(need.dir)]);
    const e = byDev.get(st.dev);
    if (e) e.bytes += need.bytes;
    else byDev.set(st.dev, { dir: need.dir, bytes: need.bytes, free: fs.bavail * fs.bsize });
  }
  for (const e of byDev.values()) {
    if (e.bytes > e.free) throw new ProxyctlError('PXC_ERR_NO_SPACE', `insufficient disk space: ${e.bytes} more bytes needed in ${e.dir}, ${e.free} free`);
  }
}
