import type { FleetSection } from './documents.js';

/**
 * The fleet's etcd keys, relative to `cluster.prefix` (the client is a
 * namespace over it):
 *
 *   config/proxy, config/apps, config/services   the fleet documents (JSON)
 *   config/meta                                  who wrote them last; moves with every fleet write
 *   nodes/NODE                                   node record, under the node's lease
 *   locks/deploy/SERVICE                         a fleet deploy's lock (etcd3 Lock), under the coordinator's lease
 *   rollouts/SERVICE                             the fleet deploy's record (under the lock's lease while it runs)
 *   deploy/NODE/SERVICE                          the coordinator asks NODE to deploy SERVICE (lock's lease)
 *   deploy-status/ROLLOUT/NODE                   NODE's answer (its own lease)
 */
export const CONFIG_PREFIX = 'config/';
export const META_KEY = 'config/meta';
export const configKey = (section: FleetSection): string => `config/${section}`;

export const NODES_PREFIX = 'nodes/';
export const nodeKey = (node: string): string => `nodes/${node}`;

export const lockKey = (service: string): string => `locks/deploy/${service}`;
export const ROLLOUTS_PREFIX = 'rollouts/';
export const rolloutKey = (service: string): string => `rollouts/${service}`;

export const deployRequestsOf = (node: string): string => `deploy/${node}/`;
export const deployRequestKey = (node: string, service: string): string => `deploy/${node}/${service}`;
export const deployStatusOf = (rollout: string): string => `deploy-status/${rollout}/`;
export const deployStatusKey = (rollout: string, node: string): string => `deploy-status/${rollout}/${node}`;
