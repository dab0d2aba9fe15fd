// The ECR JSON API (awsJson1_1) on one HTTPS endpoint for all regions: SigV4 auth, then dispatch by X-Amz-Target.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Counters } from '../counters.ts';
import type { ErrorShape, Faults, ServiceFaultStyle } from '../faults.ts';
import { type Listener, listenHttps, readBody } from '../https-server.ts';
import { lifetimeSeconds } from '../lifetime.ts';
import { parseAuthorization, verifySigV4 } from '../sigv4.ts';
import { assumedRoleArn, roleParts, type StsServer } from '../sts.ts';
import { accessDenied, EcrError, invalidRegistryId } from './errors.ts';
import type { Caller } from './operation.ts';
import { OPERATIONS, WITHOUT_REGISTRY_ID } from './ops/index.ts';
import { type EcrCall, type EcrRecorder, recordTo } from './recorder.ts';
import { ACCOUNT_PATTERN, type Registries, type RegistryState } from './state.ts';

const TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const JSON_TYPE = 'application/x-amz-json-1.1';
/** ECR registry passwords are valid for 12 hours. */
const TOKEN_TTL_MS = 12 * 3600 * 1000;

export interface EcrApi {
  readonly url: string;
  readonly listener: Listener;
  /** Registry passwords and authorization tokens issued so far. */
  secrets(): string[];
  /** Lifetime of the registry tokens issued from now on; undefined restores ECR's 12 hours. */
  setTokenLifetime(seconds?: number): void;
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  const headers = {
    'content-type': JSON_TYPE,
    'content-length': String(data.length),
    'x-amzn-requestid': randomUUID(),
    ...extra,
  };
  // setHeader, not writeHead's argument, so the call record can read x-amzn-errortype back.
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.writeHead(status);
  res.end(data);
}

function sendError(res: ServerResponse, e: ErrorShape): void {
  send(res, e.status, { __type: e.code, message: e.message }, { 'x-amzn-errortype': e.code });
}

const style: ServiceFaultStyle = {
  write: sendError,
  serverCode: 'ServerException',
  throttle: { status: 400, code: 'ThrottlingException', message: 'Rate exceeded' },
  statusFor: (code) => (code === 'ServerException' ? 500 : 400),
};

/** ECR API counter/fault target for a region: 'ecr' for the primary, 'ecr-secondary' for the other. */
export function ecrTarget(region: string, primary: string): string {
  return region === primary ? 'ecr' : 'ecr-secondary';
}

/** `registryId` of a JSON body, for the record (not validated here). */
function registryIdOf(body: Buffer): { registryId?: string } {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { registryId?: unknown } | null)?.registryId;
    return typeof id === 'string' ? { registryId: id } : {};
  } catch {
    return {};
  }
}

const keyOf = (auth: { accessKeyId: string } | undefined) => (auth ? { accessKeyId: auth.accessKeyId } : {});

/** The registry a call acts on: `registryId`'s when given (any account the world has), else the caller's own. */
function registryFor(
  registries: Registries,
  region: string,
  caller: Caller,
  op: string,
  input: Record<string, unknown>,
): RegistryState {
  const registryId = input['registryId'];
  if (registryId !== undefined && registryId !== null) {
    if (typeof registryId !== 'string' || !ACCOUNT_PATTERN.test(registryId)) throw invalidRegistryId();
  }
  const account = typeof registryId === 'string' ? registryId : caller.account;
  const registry = registries.get(account, region);
  if (registry) return registry;
  // No repository policy of an account outside the world can grant this caller anything.
  const names = input['repositoryNames'];
  const name = input['repositoryName'] ?? (Array.isArray(names) ? names[0] : undefined) ?? '*';
  throw accessDenied(caller.arn, op, `arn:aws:ecr:${region}:${account}:repository/${String(name)}`);
}

export async function startEcrApi(
  tls: Parameters<typeof listenHttps>[0],
  counters: Counters,
  faults: Faults,
  registries: Registries,
  primary: string,
  sts: StsServer,
  recorder: EcrRecorder,
  options: { tokenSeconds?: number } = {},
): Promise<EcrApi> {
  const issued: string[] = [];
  const lifetimeMs = (seconds?: number) =>
    (lifetimeSeconds('registry token lifetime', seconds) ?? TOKEN_TTL_MS / 1000) * 1000;
  let tokenLifetimeMs = lifetimeMs(options.tokenSeconds);

  const listener = await listenHttps(tls, 'ecr', async (req, res) => {
    const body = await readBody(req);
    const targetHeader = String(req.headers['x-amz-target'] ?? '');
    const op = targetHeader.startsWith(TARGET_PREFIX)
      ? targetHeader.slice(TARGET_PREFIX.length)
      : targetHeader || 'unknown';
    const auth = parseAuthorization(req.headers.authorization);
    const regionName = auth?.region ?? primary;
    const target = ecrTarget(regionName, primary);
    counters.inc(target, op);
    const call: EcrCall = recordTo(
      recorder.calls,
      { time: new Date(), target, region: regionName, operation: op, ...registryIdOf(body), ...keyOf(auth) },
      res,
    );
    if (await faults.apply(target, op, req, res, style)) return;
    try {
      if (req.method !== 'POST')
        throw new EcrError('UnknownOperationException', `${req.method} is not supported`);
      if (!auth) {
        throw new EcrError(
          req.headers.authorization ? 'IncompleteSignatureException' : 'MissingAuthenticationTokenException',
          req.headers.authorization
            ? 'Authorization header requires Credential, SignedHeaders and Signature parameters.'
            : 'Missing Authentication Token',
          req.headers.authorization ? 400 : 403,
        );
      }
      const region = registries.hasRegion(auth.region);
      const credential = sts.lookup(auth.accessKeyId);
      if (!region || auth.service !== 'ecr' || !credential) {
        const known = sts.issued.some((c) => c.accessKeyId === auth.accessKeyId);
        throw new EcrError(
          known ? 'ExpiredTokenException' : 'UnrecognizedClientException',
          known
            ? 'The security token included in the request is expired'
            : !region
              ? `The security token included in the request is invalid. (test world: no ECR in region ${auth.region})`
              : 'The security token included in the request is invalid.',
        );
      }
      if (req.headers['x-amz-security-token'] !== credential.sessionToken) {
        throw new EcrError(
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
      }
      if (
        !verifySigV4(auth, credential.secretAccessKey, {
          method: req.method,
          url: req.url ?? '/',
          headers: req.headers,
          body,
        })
      ) {
        throw new EcrError(
          'InvalidSignatureException',
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
        );
      }
      const operation = Object.hasOwn(OPERATIONS, op) ? OPERATIONS[op] : undefined;
      if (!operation)
        throw new EcrError('UnknownOperationException', `Operation ${op} is not supported by the test world`);
      let input: Record<string, unknown>;
      try {
        input = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      } catch {
        throw new EcrError('SerializationException', 'Start of structure or map found where not expected.');
      }
      input ??= {};
      const caller: Caller = {
        account: roleParts(credential.roleArn).account,
        arn: assumedRoleArn(credential),
        accessKeyId: credential.accessKeyId,
      };
      const registry = registryFor(
        registries,
        auth.region,
        caller,
        op,
        WITHOUT_REGISTRY_ID.has(op) ? {} : input,
      );
      call.account = registry.account;
      const context = {
        registry,
        caller,
        registries,
        issued: (...s: string[]) => issued.push(...s),
        tokenLifetimeMs,
        recorder,
      };
      send(res, 200, await operation(context, input));
    } catch (error) {
      if (!(error instanceof EcrError)) throw error;
      sendError(res, { status: error.status, code: error.code, message: error.message });
    }
  });

  return {
    url: listener.url,
    listener,
    secrets: () => [...issued],
    setTokenLifetime(seconds) {
      tokenLifetimeMs = lifetimeMs(seconds);
    },
  };
}
