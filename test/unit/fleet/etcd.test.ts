import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/load.js';
import { connectEtcd, describeEtcdError } from '../../../src/fleet/etcd.js';
import { tempDir } from '../../helpers/agent.js';

const cluster = { endpoints: ['http://127.0.0.1:1'], prefix: '/p/', node: 'n', lease_ttl: 10 };

describe('the etcd client of an agent', () => {
  it('names the cluster key whose file it cannot read', () => {
    expect(() => connectEtcd({ ...cluster, auth: { user: 'u', password_file: '/nonexistent/pw' } })).toThrow(ConfigError);
    expect(() => connectEtcd({ ...cluster, auth: { user: 'u', password_file: '/nonexistent/pw' } })).toThrow('cluster.auth.password_file: cannot read /nonexistent/pw: ENOENT');
    expect(() => connectEtcd({ ...cluster, tls: { ca: '/nonexistent/ca.pem' } })).toThrow('cluster.tls.ca: cannot read /nonexistent/ca.pem: ENOENT');
  });

  it('takes the first line of the password file', () => {
    const pw = join(tempDir(), 'pw');
    writeFileSync(pw, 'secret\n');
    connectEtcd({ ...cluster, auth: { user: 'u', password_file: pw } }).close();
  });

  it('says etcd errors in one line', () => {
    expect(describeEtcdError(new Error('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: '))).toBe('connect ECONNREFUSED 127.0.0.1:2379');
    expect(describeEtcdError(new BrokenCircuitError())).toBe('every etcd endpoint failed in the last second');
    expect(describeEtcdError(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'))).toBe('Deadline exceeded');
  });
});
