import { Args } from '@oclif/core';
import { ClientCommand } from '../../src/cli/client-command.js';
import { readFleetFile } from '../../src/cli/fleet-file.js';
import type { FleetDiffResult } from '../../src/fleet/commands.js';
import { renderChanges } from '../../src/fleet/render.js';

export default class FleetDiff extends ClientCommand {
  static override summary = 'Show what pushing a fleet file would change';
  static override description =
    'Validates FILE as `fleet push` does and prints each change against the fleet config in etcd: "+ path: value" added, "- path" removed, "~ path: old -> new" changed; apps and services are matched by name. The first line names the revision compared with: `fleet push FILE --revision N` then writes only if nothing changed since.';
  static override enableJsonFlag = true;
  static override args = { file: Args.string({ description: 'the fleet file (JSON), or - for standard input', required: true }) };
  static override examples = ['<%= config.bin %> fleet diff fleet.json', '<%= config.bin %> fleet diff fleet.json --json'];

  async run(): Promise<FleetDiffResult> {
    const { args, flags } = await this.parse(FleetDiff);
    const { document, source } = await readFleetFile(args.file, (m) => this.fail(m));
    const r = await this.call(this.socketPath(flags), 'fleet.diff', { document, source });
    this.log(`against fleet config revision ${r.revision}:`);
    this.log(renderChanges(r.changes));
    return r;
  }
}
