import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';

export default class ProxyFallback extends ClientCommand {
  static override summary = 'Replace the fallback proxies (the last groups) at run time';
  static override description =
    'Same syntax as `proxy set`. When fallback proxies are set, DIRECT is stripped from both lists (as in cvmfs). An empty SPEC ("") removes them. Kept across restarts until `proxyctl proxy reset`.';
  static override args = {
    spec: Args.string({ description: 'proxy string of the fallback groups, "" for none', required: true }),
  };
  static override examples = [`<%= config.bin %> proxy fallback 'http://fallback.example.org:3128'`, `<%= config.bin %> proxy fallback ''`];

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ProxyFallback);
    await this.call(this.socketPath(flags), 'proxy.fallback', { spec: args.spec });
    this.log('OK');
  }
}
