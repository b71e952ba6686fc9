import { ClientCommand } from '../../src/cli/client-command.js';

export default class ProxyRebalance extends ClientCommand {
  static override summary = 'Re-draw the random proxy orders and clear failure marks';
  static override description = 'Every proxy counts as healthy again and every job picks its member afresh at its next request.';
  static override examples = ['<%= config.bin %> proxy rebalance'];

  async run(): Promise<void> {
    const { flags } = await this.parse(ProxyRebalance);
    await this.call(this.socketPath(flags), 'proxy.rebalance', {});
    this.log('OK');
  }
}
