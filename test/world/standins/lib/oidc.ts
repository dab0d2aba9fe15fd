// The GitHub Actions OIDC token request both cosign and tbot make themselves.
import { request } from './http.ts';
import { sleep } from './runtime.ts';

export class OidcError extends Error {}

export function githubOidcAvailable(): boolean {
  return Boolean(
    process.env['ACTIONS_ID_TOKEN_REQUEST_URL'] && process.env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'],
  );
}

/**
 * GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with the request token as bearer; `{"value": "<jwt>"}` back.
 * The URL already carries `?api-version=2.0` on a runner, so `&audience=` is appended as the real clients do.
 */
export async function githubIdToken(audience: string, attempts = 3): Promise<string> {
  const base = process.env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const bearer = process.env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (!base || !bearer) {
    throw new OidcError('ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN must be set');
  }
  const url = `${base}&audience=${encodeURIComponent(audience)}`;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(500 * 2 ** (i - 1));
    try {
      const res = await request('GET', url, {
        headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json' },
      });
      if (res.status === 200) {
        const value = (JSON.parse(res.body.toString('utf8')) as { value?: unknown }).value;
        if (typeof value !== 'string' || !value) throw new OidcError('OIDC token response has no "value"');
        return value;
      }
      last = `unexpected status ${res.status} from the OIDC token endpoint: ${res.body.toString('utf8').slice(0, 200)}`;
      if (res.status < 500 && res.status !== 408 && res.status !== 429) break;
    } catch (error) {
      if (error instanceof OidcError) throw error;
      last = (error as Error).message;
    }
  }
  throw new OidcError(last);
}
