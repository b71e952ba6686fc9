import { Flags } from '@oclif/core';
import { ClientCommand } from './client-command.js';
import { ProxyctlError } from '../errors.js';
import type { DataProxyClient } from '../deploy/data-proxy/client.js';
import { dataProxyUrl } from '../deploy/data-proxy/url.js';

/** The service whose app the `notes` commands go through when --url is not given. */
export const NOTES_SERVICE = 'notes';

/**
 * Base of the `proxyctl notes …` commands: a NoteStore client for --url, or by
 * default for the app in front of the service named `notes` (asked of the
 * agent: `service.endpoint`). Reads retry once on a reset kept-alive
 * connection; writes never do.
 */
export abstract class NotesCommand extends ClientCommand {
  static override baseFlags = {
    ...ClientCommand.baseFlags,
    url: Flags.string({
      description: `data proxy URL, http://HOST:PORT[/rpc] [default: $PROXYCTL_NOTES_URL, else the app serving the "${NOTES_SERVICE}" service, asked of the agent]`,
      env: 'PROXYCTL_NOTES_URL',
      helpGroup: 'GLOBAL',
    }),
  };

  /** Runs `fn` with a client, closed afterwards (or the CLI would wait on kept-alive sockets). */
  protected async withNotes<T>(flags: { url?: string | undefined; socket?: string | undefined; 'state-dir'?: string | undefined }, fn: (client: DataProxyClient) => Promise<T>): Promise<T> {
    const url = flags.url ? this.#parseUrl(flags.url) : await this.#notesEndpoint(flags);
    // Loaded here, not with the command: the HTTP client (undici) stays out of every other command's start.
    const { DataProxyClient } = await import('../deploy/data-proxy/client.js');
    const client = new DataProxyClient(url, { retryOnReset: 'idempotent', id: flags.url ? undefined : NOTES_SERVICE });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  }

  /** A malformed --url is a usage error (exit 2). */
  #parseUrl(input: string): URL {
    try {
      return dataProxyUrl(input);
    } catch (err) {
      if (err instanceof ProxyctlError) this.usage(err.message);
      throw err;
    }
  }

  async #notesEndpoint(flags: { socket?: string | undefined; 'state-dir'?: string | undefined }): Promise<URL> {
    try {
      const { url } = await this.call(this.socketPath(flags), 'service.endpoint', { service: NOTES_SERVICE });
      return dataProxyUrl(url);
    } catch (err) {
      if (err instanceof ProxyctlError) throw new ProxyctlError(err.code, `${err.message}; or give the data proxy's address with --url`, { cause: err });
      throw err;
    }
  }
}
