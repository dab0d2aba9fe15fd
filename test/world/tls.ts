// A throw-away CA and a server certificate for 127.0.0.1/localhost (and any production names), made with openssl per world.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WorldTls {
  /** PEM of the CA: what NODE_EXTRA_CA_CERTS / SSL_CERT_FILE point at. */
  readonly caFile: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

// EC keys: an order of magnitude faster to generate than RSA, and every client we drive accepts them.
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A DNS name a certificate may carry: labels of letters, digits and hyphens, or a leading `*.` wildcard. */
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

/**
 * `dnsNames` are extra subjectAltNames, e.g. the production hosts the proxy maps to the world's servers, so a client
 * that asked for `sts.us-west-2.amazonaws.com` verifies this certificate with the world's CA.
 */
export async function makeTls(dir: string, dnsNames: readonly string[] = []): Promise<WorldTls> {
  for (const name of dnsNames)
    if (!DNS_NAME.test(name)) throw new Error(`not a DNS name for a certificate: ${name}`);
  const altNames = ['IP:127.0.0.1', 'DNS:localhost', ...[...new Set(dnsNames)].map((n) => `DNS:${n}`)];
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'server.ext');
  await Promise.all([
    run('openssl', [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      caKey,
      '-out',
      caFile,
      '-days',
      '2',
      '-sha256',
      '-subj',
      '/O=bake-oci-manifests test world/CN=test world CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]),
    run('openssl', ['req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', '/CN=localhost']),
    writeFile(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${altNames.join(',')}`,
        'authorityKeyIdentifier=keyid',
        'subjectKeyIdentifier=hash',
        '',
      ].join('\n'),
    ),
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
  ]);
  const [caPem, certPem, keyPem] = await Promise.all([readFile(caFile), readFile(cert), readFile(key)]);
  return { caFile, ca: caPem, cert: certPem, key: keyPem };
}
