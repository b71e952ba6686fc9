import { z } from 'zod';
import { configParameters, renderParameters, type ParameterLayers, type ParameterRow } from '../config/parameters.js';
import type { Config } from '../config/schema.js';
import { defineCommand, type MethodMap } from '../control/registry.js';

/** The `parameters` command: the effective config, key by key, with each value's source (src/config/parameters.ts). */

export interface ParametersSource {
  config(): Config;
  layers(): ParameterLayers;
}

export function parametersCommands(source: ParametersSource) {
  return [
    defineCommand({
      method: 'agent.parameters',
      talk: 'parameters',
      usage: '[PREFIX]',
      summary: 'the effective config, every key with its value and source (default, file, fleet, run-time)',
      params: z.object({ prefix: z.string().min(1).optional().describe('only keys starting with this, e.g. proxy or proxy.timeout') }).strict(),
      fromTalk: (args) => (args.length === 0 ? {} : { prefix: args.join(' ') }),
      handler: ({ prefix }): ParameterRow[] => {
        const rows = configParameters(source.config(), source.layers());
        return prefix === undefined ? rows : rows.filter((r) => r.key.startsWith(prefix));
      },
      renderText: renderParameters,
    }),
  ] as const;
}

export type ParametersMethods = MethodMap<ReturnType<typeof parametersCommands>>;
