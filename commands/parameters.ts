import { Args } from '@oclif/core';
import { ClientCommand } from '../src/cli/client-command.js';
import type { ParameterRow } from '../src/config/parameters.js';
import { renderTable } from '../src/ui/table.js';

export default class Parameters extends ClientCommand {
  static override summary = 'Show the effective config: every key, its value and where it comes from';
  static override description =
    'As cvmfs_talk "parameters": one row per config key of the running agent. SOURCE is default (the built-in default), file (the config file as last loaded or reloaded), fleet (a fleet document in etcd) or run-time (changed over the control socket, e.g. proxy set or timeout set; target add/remove/weight for apps, service scale for services; kept until the matching reset). PREFIX keeps the keys that start with it. With --json: [{key, value, source}].';
  static override args = {
    prefix: Args.string({ description: 'only keys starting with this, e.g. proxy or proxy.timeout' }),
  };
  static override enableJsonFlag = true;
  static override examples = ['<%= config.bin %> parameters', '<%= config.bin %> parameters proxy', '<%= config.bin %> parameters --json'];

  async run(): Promise<ParameterRow[]> {
    const { args, flags } = await this.parse(Parameters);
    const rows = await this.call(this.socketPath(flags), 'agent.parameters', args.prefix === undefined ? {} : { prefix: args.prefix });
    this.log(renderTable(['KEY', 'VALUE', 'SOURCE'], rows.map((r) => [r.key, JSON.stringify(r.value), r.source])));
    return rows;
  }
}
