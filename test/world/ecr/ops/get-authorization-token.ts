// GetAuthorizationToken: one registry password (base64 `AWS:<password>`) that every registry front of the region accepts.
import { randomBytes } from 'node:crypto';
import { EcrError } from '../errors.ts';
import type { Operation } from '../operation.ts';
import { ACCOUNT_PATTERN } from '../state.ts';

/** The deprecated `registryIds`: 1-10 account ids; absent means the caller's own registry. */
function registryIds(input: unknown, own: string): string[] {
  if (input === undefined || input === null) return [own];
  if (!Array.isArray(input) || input.length < 1 || input.length > 10) {
    throw new EcrError(
      'InvalidParameterException',
      "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must have length between 1 and 10'",
    );
  }
  if (!input.every((id) => typeof id === 'string' && ACCOUNT_PATTERN.test(id))) {
    throw new EcrError(
      'InvalidParameterException',
      "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]'",
    );
  }
  return input as string[];
}

export const getAuthorizationToken: Operation = async (ctx, input) => {
  const { registry, caller, registries, issued } = ctx;
  const ids = registryIds(input['registryIds'], caller.account);
  const password = randomBytes(258).toString('base64');
  const issuedAt = Date.now();
  const expiresAt = issuedAt + ctx.tokenLifetimeMs;
  const token = {
    region: registry.region,
    accessKeyId: caller.accessKeyId,
    issuedAt: new Date(issuedAt),
    expiresAt: new Date(expiresAt),
  };
  registry.tokens.add(password, token);
  ctx.recorder.tokens.push(token);
  const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
  issued(password, authorizationToken);
  // The token is not bound to an account; each entry only names the registry it is meant for.
  return {
    authorizationData: ids.map((id) => {
      const front = registries.get(id, registry.region)?.frontHost;
      return {
        authorizationToken,
        expiresAt: expiresAt / 1000,
        proxyEndpoint: `https://${front ?? `${id}.dkr.ecr.${registry.region}.amazonaws.com`}`,
      };
    }),
  };
};
