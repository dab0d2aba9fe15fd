// The stand-in's Fulcio and Rekor: "certificates" and transparency-log bundles signed with per-world ECDSA keys.
// A stand-in certificate is PEM-armoured JSON, not X.509; only the stand-in cosign can read it.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FULCIO_KEY_FILE, FULCIO_PUB_FILE, REKOR_KEY_FILE, REKOR_PUB_FILE } from '../control.ts';

export interface CertBody {
  kind: 'standin-fulcio-certificate';
  /** The SAN: for GitHub tokens `https://github.com/<job_workflow_ref>`. */
  subject: string;
  issuer: string;
  /** SPKI PEM of the ephemeral signing key. */
  publicKey: string;
  notBefore: string;
  notAfter: string;
  /** Fulcio's GitHub extensions by their cosign names (githubWorkflowTrigger, ...). */
  extensions: Record<string, string>;
}

export interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

function unpem(text: string): Buffer {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new Error('no certs found in pem file');
  return Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
}

export interface Authority {
  fulcioKey?: KeyObject;
  fulcioPub: KeyObject;
  fulcioPubPem: string;
  rekorKey?: KeyObject;
  rekorPub: KeyObject;
  rekorPubPem: string;
}

export function loadAuthority(controlDir: string, withPrivate: boolean): Authority {
  const read = (f: string) => readFileSync(join(controlDir, f), 'utf8');
  const fulcioPubPem = read(FULCIO_PUB_FILE);
  const rekorPubPem = read(REKOR_PUB_FILE);
  const a: Authority = {
    fulcioPub: createPublicKey(fulcioPubPem),
    fulcioPubPem,
    rekorPub: createPublicKey(rekorPubPem),
    rekorPubPem,
  };
  if (withPrivate) {
    a.fulcioKey = createPrivateKey(read(FULCIO_KEY_FILE));
    a.rekorKey = createPrivateKey(read(REKOR_KEY_FILE));
  }
  return a;
}

export function ephemeralKey(): { privateKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Issues a stand-in certificate, valid 10 minutes like Fulcio's. */
export function issueCertificate(
  a: Authority,
  body: Omit<CertBody, 'kind' | 'notBefore' | 'notAfter'>,
): string {
  if (!a.fulcioKey) throw new Error('no Fulcio signing key');
  // Whole seconds, as X.509 validity is: Rekor's integratedTime (seconds) must not fall before notBefore.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const full: CertBody = {
    kind: 'standin-fulcio-certificate',
    ...body,
    notBefore: new Date(now).toISOString(),
    notAfter: new Date(now + 10 * 60_000).toISOString(),
  };
  const tbs = JSON.stringify(full);
  const sig = sign('sha256', Buffer.from(tbs), a.fulcioKey).toString('base64');
  return pem('CERTIFICATE', Buffer.from(JSON.stringify({ tbs, sig })));
}

export function chainPem(a: Authority): string {
  return pem(
    'CERTIFICATE',
    Buffer.from(JSON.stringify({ kind: 'standin-fulcio-root', publicKey: a.fulcioPubPem })),
  );
}

/** Reads and checks a stand-in certificate against the stand-in Fulcio key. */
export function readCertificate(a: Authority, certPem: string): CertBody {
  let outer: { tbs?: string; sig?: string };
  try {
    outer = JSON.parse(unpem(certPem).toString('utf8')) as { tbs?: string; sig?: string };
  } catch {
    throw new Error('x509: malformed certificate (not a stand-in Fulcio certificate)');
  }
  if (
    !outer.tbs ||
    !outer.sig ||
    !verify('sha256', Buffer.from(outer.tbs), a.fulcioPub, Buffer.from(outer.sig, 'base64'))
  ) {
    throw new Error('x509: certificate signed by unknown authority');
  }
  return JSON.parse(outer.tbs) as CertBody;
}

function canonicalPayload(p: RekorBundle['Payload']): string {
  return JSON.stringify({
    body: p.body,
    integratedTime: p.integratedTime,
    logIndex: p.logIndex,
    logID: p.logID,
  });
}

export function logId(a: Authority): string {
  return createHash('sha256')
    .update(a.rekorPub.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** A hashedrekord entry for (payload, signature, certificate), with a signed entry timestamp. */
export function makeBundle(
  a: Authority,
  payload: Buffer,
  signatureB64: string,
  certPem: string,
): RekorBundle {
  if (!a.rekorKey) throw new Error('no Rekor signing key');
  const entry = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
      signature: { content: signatureB64, publicKey: { content: Buffer.from(certPem).toString('base64') } },
    },
  };
  const Payload = {
    body: Buffer.from(JSON.stringify(entry)).toString('base64'),
    integratedTime: Math.floor(Date.now() / 1000),
    logIndex: Math.floor(Math.random() * 1e9),
    logID: logId(a),
  };
  const SignedEntryTimestamp = sign('sha256', Buffer.from(canonicalPayload(Payload)), a.rekorKey).toString(
    'base64',
  );
  return { SignedEntryTimestamp, Payload };
}

/** Checks the bundle's SignedEntryTimestamp against the stand-in Rekor key. */
export function checkSet(a: Authority, bundle: RekorBundle): void {
  const ok = verify(
    'sha256',
    Buffer.from(canonicalPayload(bundle.Payload)),
    a.rekorPub,
    Buffer.from(bundle.SignedEntryTimestamp, 'base64'),
  );
  if (!ok) throw new Error('unable to verify SET');
}

/** Checks the bundle's signature and that it records exactly this payload, signature and certificate. */
export function checkBundle(
  a: Authority,
  bundle: RekorBundle,
  payload: Buffer,
  signatureB64: string,
  certPem: string,
): void {
  checkSet(a, bundle);
  const entry = JSON.parse(Buffer.from(bundle.Payload.body, 'base64').toString('utf8')) as {
    spec?: {
      data?: { hash?: { value?: string } };
      signature?: { content?: string; publicKey?: { content?: string } };
    };
  };
  const hash = createHash('sha256').update(payload).digest('hex');
  if (entry.spec?.data?.hash?.value !== hash)
    throw new Error('the payload hash does not match the transparency log entry');
  if (entry.spec?.signature?.content !== signatureB64)
    throw new Error('the signature does not match the transparency log entry');
  if (entry.spec?.signature?.publicKey?.content !== Buffer.from(certPem).toString('base64')) {
    throw new Error('the certificate does not match the transparency log entry');
  }
}

export function signPayload(key: KeyObject, payload: Buffer): string {
  return sign('sha256', payload, key).toString('base64');
}

export function verifyPayload(publicPem: string, payload: Buffer, signatureB64: string): boolean {
  return verify('sha256', payload, createPublicKey(publicPem), Buffer.from(signatureB64, 'base64'));
}
