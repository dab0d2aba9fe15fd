// AWS STS over the query protocol: AssumeRoleWithWebIdentity (JWT SVID from the Teleport emulator) and GetCallerIdentity.
import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { compactVerify, createLocalJWKSet, decodeJwt, type JSONWebKeySet } from 'jose';
import type { Counters } from './counters.ts';
import type { ErrorShape, Faults, ServiceFaultStyle } from './faults.ts';
import { type Listener, listenHttps, readBody } from './https-server.ts';
import { lifetimeSeconds } from './lifetime.ts';
import type { WorldTls } from './tls.ts';

export const DEFAULT_ROLE_ARN = 'arn:aws:iam::515260921971:role/teleport-image-push';
const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export interface StsCredential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Epoch ms. */
  readonly expiration: number;
  readonly roleArn: string;
  readonly sessionName: string;
  /** Epoch ms. */
  readonly issuedAt: number;
}

export interface StsServer {
  readonly url: string;
  readonly roleArn: string;
  /** A credential this STS issued (and that has not expired), by access key id. */
  lookup(accessKeyId: string): StsCredential | undefined;
  /** Credentials issued so far. */
  readonly issued: readonly StsCredential[];
  /** Lifetime of the credentials issued from now on, whatever DurationSeconds asks; undefined restores DurationSeconds. */
  setCredentialLifetime(seconds?: number): void;
  readonly listener: Listener;
}

export interface StsOptions {
  roleArn?: string;
  /** Credentials live this many seconds (below STS's 900 s floor too); default: DurationSeconds, 3600. */
  credentialSeconds?: number;
}

const xmlEscape = (s: string) =>
  s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c,
  );

function sendXml(res: ServerResponse, status: number, xml: string, requestId: string): void {
  const body = Buffer.from(xml);
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': String(body.length),
    'x-amzn-requestid': requestId,
  });
  res.end(body);
}

function sendError(res: ServerResponse, e: ErrorShape): void {
  const requestId = randomUUID();
  sendXml(
    res,
    e.status,
    `<ErrorResponse xmlns="${NS}">\n  <Error>\n    <Type>${e.status >= 500 ? 'Receiver' : 'Sender'}</Type>\n` +
      `    <Code>${xmlEscape(e.code)}</Code>\n    <Message>${xmlEscape(e.message)}</Message>\n  </Error>\n` +
      `  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
    requestId,
  );
}

const STATUS: Record<string, number> = {
  AccessDenied: 403,
  IDPRejectedClaim: 403,
  InvalidClientTokenId: 403,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

const style: ServiceFaultStyle = {
  write: sendError,
  serverCode: 'ServiceUnavailable',
  throttle: { status: 400, code: 'Throttling', message: 'Rate exceeded' },
  statusFor: (code) => STATUS[code] ?? 400,
};

const alnum = (n: number) => {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return Array.from(randomBytes(n), (b) => chars[b % 32]).join('');
};

/** Account and role name of an IAM role ARN (`arn:aws:iam::<account>:role/[path/]<name>`); empty when it is not one. */
export function roleParts(roleArn: string): { account: string; roleName: string } {
  const [, account = '', roleName = ''] =
    /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn) ?? [];
  return { account, roleName };
}

/** The principal a credential acts as, as AWS names it in errors: `arn:aws:sts::<account>:assumed-role/<role>/<session>`. */
export function assumedRoleArn(credential: Pick<StsCredential, 'roleArn' | 'sessionName'>): string {
  const { account, roleName } = roleParts(credential.roleArn);
  return `arn:aws:sts::${account}:assumed-role/${roleName}/${credential.sessionName}`;
}

/** The access key id out of a SigV4 Authorization header. */
export function accessKeyOf(authorization: string | undefined): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
}

export async function startSts(
  tls: WorldTls,
  counters: Counters,
  faults: Faults,
  teleport: { jwks: JSONWebKeySet; issuer: string },
  options: StsOptions = {},
): Promise<StsServer> {
  const roleArn = options.roleArn ?? DEFAULT_ROLE_ARN;
  const checked = (seconds?: number) => lifetimeSeconds('STS credential lifetime', seconds);
  let credentialSeconds = checked(options.credentialSeconds);
  const keys = createLocalJWKSet(teleport.jwks);
  const issued: StsCredential[] = [];
  const byKey = new Map<string, StsCredential>();
  const err = (code: string, message: string, status = STATUS[code] ?? 400): ErrorShape => ({
    status,
    code,
    message,
  });

  const assume = async (form: URLSearchParams): Promise<ErrorShape | string> => {
    const arn = form.get('RoleArn');
    const session = form.get('RoleSessionName');
    const token = form.get('WebIdentityToken');
    const missing = [
      ['roleArn', arn],
      ['roleSessionName', session],
      ['webIdentityToken', token],
    ].filter(([, v]) => v === null);
    if (missing.length > 0) {
      return err(
        'ValidationError',
        `${missing.length} validation error${missing.length > 1 ? 's' : ''} detected: ` +
          missing
            .map(([name]) => `Value null at '${name}' failed to satisfy constraint: Member must not be null`)
            .join('; '),
      );
    }
    if (!/^[\w+=,.@-]{2,64}$/.test(session ?? '')) {
      return err(
        'ValidationError',
        `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint: ` +
          'Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*',
      );
    }
    const durationText = form.get('DurationSeconds');
    const duration = durationText === null ? 3600 : Number(durationText);
    if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
      return err(
        'ValidationError',
        `1 validation error detected: Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    if (duration > 3600) {
      return err(
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token ?? '');
    } catch {
      return err('InvalidIdentityToken', "Couldn't parse the web identity token.");
    }
    const iss = typeof claims['iss'] === 'string' ? claims['iss'] : '';
    if (iss !== teleport.issuer) {
      return err('InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${iss}`);
    }
    try {
      await compactVerify(token ?? '', keys);
    } catch {
      return err(
        'InvalidIdentityToken',
        'The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.',
      );
    }
    const aud = claims['aud'];
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes('sts.amazonaws.com'))
      return err('InvalidIdentityToken', 'Incorrect token audience');
    const now = Math.floor(Date.now() / 1000);
    const exp = typeof claims['exp'] === 'number' ? claims['exp'] : 0;
    if (exp <= now) {
      return err(
        'ExpiredTokenException',
        `Token expired: current date/time ${now} must be before the expiration date/time ${exp}`,
      );
    }
    if (arn !== roleArn)
      return err('AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const credential: StsCredential = {
      accessKeyId: `ASIA${alnum(16)}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(300).toString('base64')}`,
      // The world's short lifetime overrides DurationSeconds, and Expiration says so honestly.
      expiration: (now + (credentialSeconds ?? duration)) * 1000,
      roleArn,
      sessionName: session ?? '',
      issuedAt: Date.now(),
    };
    issued.push(credential);
    byKey.set(credential.accessKeyId, credential);
    const { account, roleName } = roleParts(roleArn);
    const sub = typeof claims['sub'] === 'string' ? claims['sub'] : '';
    const requestId = randomUUID();
    return (
      `<AssumeRoleWithWebIdentityResponse xmlns="${NS}">\n  <AssumeRoleWithWebIdentityResult>\n` +
      `    <SubjectFromWebIdentityToken>${xmlEscape(sub)}</SubjectFromWebIdentityToken>\n` +
      `    <Audience>sts.amazonaws.com</Audience>\n` +
      `    <AssumedRoleUser>\n      <Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(roleName)}/${xmlEscape(session ?? '')}</Arn>\n` +
      `      <AssumedRoleId>AROA${alnum(17)}:${xmlEscape(session ?? '')}</AssumedRoleId>\n    </AssumedRoleUser>\n` +
      `    <Credentials>\n      <SessionToken>${credential.sessionToken}</SessionToken>\n` +
      `      <SecretAccessKey>${credential.secretAccessKey}</SecretAccessKey>\n` +
      `      <Expiration>${new Date(credential.expiration).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration>\n` +
      `      <AccessKeyId>${credential.accessKeyId}</AccessKeyId>\n    </Credentials>\n` +
      `    <Provider>${xmlEscape(iss)}</Provider>\n  </AssumeRoleWithWebIdentityResult>\n` +
      `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleWithWebIdentityResponse>\n`
    );
  };

  const lookup = (accessKeyId: string) => {
    const credential = byKey.get(accessKeyId);
    return credential && credential.expiration > Date.now() ? credential : undefined;
  };

  const listener = await listenHttps(tls, 'sts', async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const body = req.method === 'POST' ? (await readBody(req)).toString('utf8') : '';
    const form = new URLSearchParams(req.method === 'POST' ? body : url.search);
    const action = form.get('Action') ?? 'missing-action';
    counters.inc('sts', action);
    if (await faults.apply('sts', action, req, res, style)) return;
    if (form.get('Version') !== '2011-06-15') {
      return sendError(
        res,
        err('InvalidAction', `Could not find operation ${action} for version ${form.get('Version')}`),
      );
    }
    if (action === 'AssumeRoleWithWebIdentity') {
      const result = await assume(form);
      if (typeof result !== 'string') return sendError(res, result);
      return sendXml(res, 200, result, randomUUID());
    }
    if (action === 'GetCallerIdentity') {
      const key = accessKeyOf(req.headers.authorization) ?? '';
      const credential = lookup(key);
      if (!credential) {
        return sendError(
          res,
          byKey.has(key)
            ? err('ExpiredToken', 'The security token included in the request is expired', 403)
            : err('InvalidClientTokenId', 'The security token included in the request is invalid.'),
        );
      }
      const { account } = roleParts(credential.roleArn);
      const requestId = randomUUID();
      return sendXml(
        res,
        200,
        `<GetCallerIdentityResponse xmlns="${NS}">\n  <GetCallerIdentityResult>\n` +
          `    <Arn>${xmlEscape(assumedRoleArn(credential))}</Arn>\n` +
          `    <UserId>AROA${credential.accessKeyId.slice(4)}:${xmlEscape(credential.sessionName)}</UserId>\n` +
          `    <Account>${account}</Account>\n  </GetCallerIdentityResult>\n` +
          `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n`,
        requestId,
      );
    }
    return sendError(res, err('InvalidAction', `Could not find operation ${action} for version 2011-06-15`));
  });

  return {
    url: listener.url,
    roleArn,
    lookup,
    issued,
    setCredentialLifetime(seconds) {
      credentialSeconds = checked(seconds);
    },
    listener,
  };
}
