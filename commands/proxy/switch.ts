import { ClientCommand } from '../../src/cli/client-command.js';

export default class ProxySwitch extends ClientCommand {
  static override summary = 'Make the next proxy group active (talk: proxy group switch)';
  static override description = 'Wraps around after the last group. The switch is logged with its reason and moves the list revision.';
  static override examples = ['<%= config.bin %> proxy switch'];

  async run(): Promise<void> {
    const { flags } = await this.parse(ProxySwitch);
    await this.call(this.socketPath(flags), 'proxy.switch', {});
    this.log('OK');
  }
}
