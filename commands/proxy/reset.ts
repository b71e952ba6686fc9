import { ClientCommand } from '../../src/cli/client-command.js';

export default class ProxyReset extends ClientCommand {
  static override summary = 'Drop run-time proxy changes (set, fallback, policy): back to the config';
  static override examples = ['<%= config.bin %> proxy reset'];

  async run(): Promise<void> {
    const { flags } = await this.parse(ProxyReset);
    await this.call(this.socketPath(flags), 'proxy.reset', {});
    this.log('OK');
  }
}
