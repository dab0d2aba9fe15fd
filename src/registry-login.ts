import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryAuthorization } from './ecr.ts';
import type { Log } from './log.ts';
import { Renewing } from './session.ts';

/** What a registry client or a tool needs: the Basic authorization, and the DOCKER_CONFIG that holds it. */
export interface RegistryCredentials {
  /** base64 `AWS:<password>`, the value of an `Authorization: Basic` header for the registry. */
  authorization: string;
  /** The private DOCKER_CONFIG directory (0700) holding config.json (0600); the post step removes it. */
  dockerConfig: string;
}

/** `config.json` for one registry host, as go-containerregistry's default keychain reads it. */
const dockerConfigJson = (host: string, auth: string) =>
  `${JSON.stringify({ auths: { [host]: { auth } } }, null, 2)}\n`;

/**
 * Writes `config.json` for the registry host into `dir`. The first write refuses an existing file (one this run
 * did not write is not to be trusted or reused); a later one replaces it whole, so a tool never reads half.
 */
export async function writeDockerConfig(
  dir: string,
  host: string,
  auth: string,
  replace = false,
): Promise<void> {
  const file = join(dir, 'config.json');
  if (!replace) return writeFile(file, dockerConfigJson(host, auth), { mode: 0o600, flag: 'wx' });
  const next = join(dir, 'config.json.next');
  await writeFile(next, dockerConfigJson(host, auth), { mode: 0o600 });
  await rename(next, file);
}

/**
 * The registry login of the run: handed out fresh, that is, logged in again (and config.json rewritten) when the
 * authorization has less than the refresh margin left, before a registry request or a tool run needs it.
 */
export class RegistryLogin {
  private readonly authorization: Renewing<RegistryAuthorization>;

  constructor(
    readonly host: string,
    readonly dockerConfig: string,
    first: RegistryAuthorization,
    authorize: (log: Log) => Promise<RegistryAuthorization>,
  ) {
    this.authorization = new Renewing(
      first,
      (a) => a.expiresAt,
      async (log) => {
        log.info(`the registry login for ${host} is about to expire: logging in again`);
        const next = await authorize(log);
        await writeDockerConfig(dockerConfig, host, next.token, true);
        return next;
      },
    );
  }

  async fresh(log: Log): Promise<RegistryCredentials> {
    return { authorization: (await this.authorization.get(log)).token, dockerConfig: this.dockerConfig };
  }
}
