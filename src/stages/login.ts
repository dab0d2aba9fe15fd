import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Context, code, privateDir } from '../context.ts';
import { Ecr } from '../ecr.ts';
import { remoteOnly, stage } from '../pipeline.ts';

export interface Login {
  /** The private DOCKER_CONFIG directory (0700) holding config.json (0600); the post step removes it. */
  dockerConfig: string;
  /** base64 `AWS:<password>`, the value of an `Authorization: Basic` header for the registry. */
  authorization: string;
}

declare module '../context.ts' {
  interface Results {
    login: Login;
  }
}

/** Writes `config.json` for the registry host into a fresh private directory; returns that directory. */
export async function writeDockerConfig(ctx: Pick<Context, 'root'>, registry: string, auth: string) {
  const dir = await privateDir(ctx, 'docker');
  const config = { auths: { [registry]: { auth } } };
  // 'wx': a config.json already there was not written by this run, so refuse to trust or reuse it.
  await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  return dir;
}

export const login = stage({
  name: 'login',
  needs: ['assume'],
  skip: remoteOnly,
  async run(ctx, log) {
    const { registry } = ctx.inputs;
    const ecr = await Ecr.forRun(ctx, registry, log);
    let token: string;
    try {
      ({ token } = await ecr.authorization());
    } finally {
      ecr.close();
    }
    const dockerConfig = await writeDockerConfig(ctx, registry.host, token);
    log.info(
      `logged in to ${registry.host} (${registry.region}); credentials for the tools are in a private DOCKER_CONFIG`,
    );
    ctx.facts.push({ label: 'registry', value: ['logged in to ', code(registry.host)] });
    return { dockerConfig, authorization: token };
  },
});
