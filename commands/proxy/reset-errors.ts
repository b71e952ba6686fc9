import { ClientCommand } from '../../src/cli/client-command.js';
import { changed } from '../../src/ui/outcome.js';
import type { ResetErrorsResult } from '../../src/upstream/commands.js';

export default class ProxyResetErrors extends ClientCommand {
  static override summary = "Zero every upstream proxy's error counts (talk: reset error counters)";
  static override description =
    'The FAILURES and SLOW columns of `proxy health`, the failures of `proxy info` and each proxy\'s last error start again from 0, as cvmfs_talk "reset error counters". Health states and the active group do not change (that is `proxy rebalance`), and the Prometheus counters keep counting (a counter that goes down reads as a restart). With --json: {proxies} (how many were reset).';
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> proxy reset-errors', '<%= config.bin %> proxy reset-errors --json'];

  async run(): Promise<ResetErrorsResult> {
    const { flags } = await this.parse(ProxyResetErrors);
    const r = await this.call(this.socketPath(flags), 'proxy.reset_errors', {});
    this.log(changed('proxy error counts', `reset (${r.proxies} ${r.proxies === 1 ? 'proxy' : 'proxies'})`));
    return r;
  }
}
