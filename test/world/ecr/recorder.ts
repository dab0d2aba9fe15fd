// What the ECR API and the registry fronts remember per request, so a test can tell which credentials served which call.
import type { ServerResponse } from 'node:http';

/** One request to the ECR API. */
export interface EcrCall {
  readonly time: Date;
  /** 'ecr' or 'ecr-secondary' (the counter/fault target). */
  readonly target: string;
  /** Region of the SigV4 scope (the primary when unsigned). */
  readonly region: string;
  readonly operation: string;
  /** Access key id of the SigV4 credential, also when the call was refused. */
  readonly accessKeyId?: string;
  /** `registryId` as the request gave it. */
  readonly registryId?: string;
  /** Account whose registry the call acted on, once auth passed and the registry was found. */
  account?: string;
  /** HTTP status, once answered (a reset or hung request has none). */
  status?: number;
  /** `__type` of an error answer (injected faults included). */
  error?: string;
}

/** One registry password GetAuthorizationToken issued (the password itself is in world.secrets()). */
export interface RegistryToken {
  readonly region: string;
  /** Access key id of the credentials GetAuthorizationToken was called with. */
  readonly accessKeyId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

export type RegistryAuth = 'ok' | 'expired' | 'invalid' | 'none';

/** One request to a registry front. */
export interface RegistryCall {
  readonly time: Date;
  readonly account: string;
  readonly region: string;
  /** Request kind, as counted: 'ping', 'manifest-put', 'blob-upload', ... */
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  /** How its Basic credentials fared. */
  readonly auth: RegistryAuth;
  /** Access key id behind the token it presented (when the token is one the world issued). */
  readonly accessKeyId?: string;
  status?: number;
}

export class EcrRecorder {
  readonly calls: EcrCall[] = [];
  readonly tokens: RegistryToken[] = [];
  readonly registryCalls: RegistryCall[] = [];
}

/** Appends `entry` to `list` and fills in its status (and error type) once the response is sent. */
export function recordTo<T extends { status?: number; error?: string }>(
  list: T[],
  entry: T,
  res: ServerResponse,
): T {
  list.push(entry);
  res.on('finish', () => {
    entry.status = res.statusCode;
    const type = res.getHeader('x-amzn-errortype');
    if (typeof type === 'string') entry.error = type;
  });
  return entry;
}
