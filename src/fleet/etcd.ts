import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, isBrokenCircuitError, retry, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { ConfigError } from '../config/load.js';
import type { ClusterConfig } from '../config/schema.js';

/** A unary etcd call that takes longer than this counts as a failure (etcd away): the agent serves on. */
export const CALL_DEADLINE_MS = 2000;

/**
 * The etcd client of an agent. Tuned so that an outage is noticed in about a
 * second and the way back is as quick: short call deadlines, a circuit per
 * member that half-opens after 1 s, retries that move to another member, and
 * watch and channel reconnects backing off to 1 s at most (the library's
 * defaults go to 30 s and gRPC's to 120 s, which would hold a resync back
 * long after etcd is up again).
 */
export function connectEtcd(cluster: ClusterConfig): Etcd3 {
  const options: IOptions = {
    hosts: cluster.endpoints,
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: Math.min(3, Math.max(1, cluster.endpoints.length)) }),
      // etcd3 types this as a backoff but uses it as a factory (its own default is `new ExponentialBackoff()`).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
    },
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 3000,
    },
  };
  if (cluster.tls) {
    options.credentials = {
      rootCertificate: readKeyFile(cluster.tls.ca, 'cluster.tls.ca'),
      ...(cluster.tls.cert !== undefined && cluster.tls.key !== undefined ? { certChain: readKeyFile(cluster.tls.cert, 'cluster.tls.cert'), privateKey: readKeyFile(cluster.tls.key, 'cluster.tls.key') } : {}),
    };
  }
  if (cluster.auth) {
    const password = readKeyFile(cluster.auth.password_file, 'cluster.auth.password_file').toString('utf8').split('\n')[0]!.trimEnd();
    options.auth = { username: cluster.auth.user, password };
  }
  return new Etcd3(options);
}

function readKeyFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError('config', [`${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], { cause: err });
  }
}

/**
 * An etcd client error in one line: gRPC's status prefix and resolver notes
 * dropped, and the circuit breaker's refusal said as what it means.
 */
export function describeEtcdError(err: unknown): string {
  if (isBrokenCircuitError(err)) return 'every etcd endpoint failed in the last second';
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^\d+ [A-Z_]+: /, '').replace(/\.? ?Resolution note: ?$/, '').replace(/^No connection established\. Last error: (?:Error: )?/, '');
}
