import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';

export default class ServiceEndpoint extends ClientCommand {
  static override summary = "Print the URL of a service through its app (what 'proxyctl notes' calls by default)";
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> service endpoint notes', `curl -s $(<%= config.bin %> service endpoint notes) -d '{"jsonrpc":"2.0","id":1,"method":"ListNotes"}'`];
  static override args = {
    service: Args.string({ description: 'service name', required: true }),
  };

  async run(): Promise<{ service: string; app: string; url: string }> {
    const { args, flags } = await this.parse(ServiceEndpoint);
    const e = await this.call(this.socketPath(flags), 'service.endpoint', { service: args.service });
    this.log(e.url);
    return e;
  }
}
