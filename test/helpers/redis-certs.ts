/** A throwaway CA and a server certificate for `localhost` and 127.0.0.1 (openssl), for TLS-only test Redis servers. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisTls } from './redis.js';

/** Writes the files into `dir`; Herald trusts the CA through `NODE_EXTRA_CA_CERTS` = `caFile`. */
export function redisCertificates(dir: string): RedisTls {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=herald-test-ca', '-days', '1', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('redis.key'), '-out', file('redis.csr'));
  writeFileSync(file('ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  openssl('x509', '-req', '-in', file('redis.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('ext'), '-out', file('redis.pem'));
  return { certFile: file('redis.pem'), keyFile: file('redis.key'), caFile: file('ca.pem') };
}
