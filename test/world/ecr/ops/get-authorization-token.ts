// GetAuthorizationToken: a registry password (base64 `AWS:<password>`) the region's registry front accepts.
import { randomBytes } from 'node:crypto';
import type { Operation } from '../operation.ts';

/** ECR registry passwords are valid for 12 hours. */
const TOKEN_TTL_MS = 12 * 3600 * 1000;

export const getAuthorizationToken: Operation = async ({ registry, issued }) => {
  const password = randomBytes(258).toString('base64');
  const expiresAt = Date.now() + TOKEN_TTL_MS;
  registry.passwords.set(password, expiresAt);
  const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
  issued(password, authorizationToken);
  return {
    authorizationData: [
      { authorizationToken, expiresAt: expiresAt / 1000, proxyEndpoint: `https://${registry.frontHost}` },
    ],
  };
};
