/**
 * What the action's own environment may hand a child process. Never: credentials an earlier step may have
 * exported (the action's clients use the STS credentials in memory) and the action's inputs, which carry the
 * GitHub token. Each caller removes what its tool must not see and sets what it needs.
 */
const NEVER = /^(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_SECURITY_TOKEN|INPUT_.*)$/;

/** The runner's OIDC request variables: only tbot (and the action itself) may ask for tokens. */
export const OIDC_REQUEST = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'] as const;

export function childEnv(
  options: { remove?: readonly string[]; set?: Record<string, string>; base?: NodeJS.ProcessEnv } = {},
): NodeJS.ProcessEnv {
  const remove = new Set(options.remove ?? []);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(options.base ?? process.env)) {
    if (!NEVER.test(name) && !remove.has(name)) env[name] = value;
  }
  return { ...env, ...options.set };
}

/**
 * The environment flux and cosign run with: the action's own (SSL_CERT_FILE and proxies pass through) plus the
 * private DOCKER_CONFIG, without AWS credentials, the action's inputs (the token) or the OIDC request variables
 * (cosign gets its one token separately).
 */
export function toolEnv(dockerConfig: string): NodeJS.ProcessEnv {
  return childEnv({ remove: OIDC_REQUEST, set: { DOCKER_CONFIG: dockerConfig } });
}
