import type { Watcher } from 'etcd3';

/**
 * Cancels a watcher, giving up after `ms`: etcd3 waits for the server's
 * confirmation, which never comes when the stream died meanwhile (the client's
 * close() tears the stream down anyway).
 */
export async function cancelWatch(w: Watcher, ms = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([w.cancel().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
