import type { ECRClient } from '@aws-sdk/client-ecr';
import { ecrClient, ecrRetry, ecrSdk } from '../aws.ts';
import { need } from '../context.ts';
import { ActionError } from '../errors.ts';
import type { Log } from '../log.ts';
import { isDigest } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry, sleep } from '../retry.ts';

export interface ImageFound {
  /** `image:tag` */
  name: string;
  digest: string;
}

declare module '../context.ts' {
  interface Results {
    images: { images: ImageFound[] };
  }
}

/** One image's state; `absent` says why it does not count as there. */
type Check = { image: string; name: string } & ({ digest: string } | { absent: string });

const POLL_FIRST_MS = 2_000;
const POLL_MAX_MS = 15_000;

/** DescribeImages for `repository:tag` (or `@digest`); throttling and 5xx retried, a missing image or repository is an answer. */
export async function checkImage(
  client: ECRClient,
  repository: string,
  reference: string,
  signal: AbortSignal,
  log: Log,
): Promise<Check> {
  const byDigest = isDigest(reference);
  const name = `${repository}${byDigest ? '@' : ':'}${reference}`;
  const imageId = byDigest ? { imageDigest: reference } : { imageTag: reference };
  const { DescribeImagesCommand } = await ecrSdk();
  try {
    const answer = await retry(
      () =>
        client.send(new DescribeImagesCommand({ repositoryName: repository, imageIds: [imageId] }), {
          abortSignal: signal,
        }),
      ecrRetry(signal, log, `DescribeImages ${name}`),
    );
    const digest = answer.imageDetails?.[0]?.imageDigest;
    return digest ? { image: repository, name, digest } : { image: repository, name, absent: 'no such tag' };
  } catch (error) {
    const kind = error instanceof Error ? error.name : '';
    if (kind === 'ImageNotFoundException') return { image: repository, name, absent: 'no such tag' };
    if (kind === 'RepositoryNotFoundException') {
      return { image: repository, name, absent: `no repository ${repository}` };
    }
    throw new ActionError(`ECR DescribeImages failed for ${name}`, {
      hint: 'check that the role allows ecr:DescribeImages on the image repositories',
      cause: error,
    });
  }
}

export const images = stage({
  name: 'images',
  needs: ['resolve', 'assume'],
  skip: (ctx) =>
    remoteOnly(ctx) ?? (ctx.inputs.images.length === 0 ? 'images is empty: nothing to check' : undefined),
  async run(ctx, log) {
    const { version } = need(ctx, 'resolve');
    const region = ctx.inputs.awsRegion;
    const client = await ecrClient(ctx, region);
    const deadline = Date.now() + ctx.inputs.waitForImages * 1000;
    const found = new Map<string, string>();
    let pending = [...ctx.inputs.images];
    try {
      for (let round = 0; ; round++) {
        const checks = await Promise.all(
          pending.map((image) => checkImage(client, image, version, ctx.signal, log)),
        );
        const missing: Extract<Check, { absent: string }>[] = [];
        for (const check of checks) {
          if ('digest' in check) {
            found.set(check.name, check.digest);
            log.info(`✔ ${check.name} ${check.digest}`);
          } else missing.push(check);
        }
        if (missing.length === 0) break;
        const left = deadline - Date.now();
        if (left <= 0) {
          const list = missing.map((m) => `${m.name} (${m.absent})`).join(', ');
          const waited = ctx.inputs.waitForImages > 0 ? ` after waiting ${ctx.inputs.waitForImages} s` : '';
          throw new ActionError(
            `${missing.length} of ${ctx.inputs.images.length} images are not in ECR ${region}${waited}: ${list}`,
            {
              hint: `push ${missing.length > 1 ? 'them' : 'it'} with tag ${version} before baking (or raise wait-for-images when the build runs alongside)`,
            },
          );
        }
        const delay = Math.min(POLL_FIRST_MS * 2 ** round, POLL_MAX_MS, left);
        log.info(
          `waiting for ${missing.map((m) => m.name).join(', ')}: next look in ${Math.ceil(delay / 1000)} s, ${Math.ceil(left / 1000)} s left`,
        );
        await sleep(delay, ctx.signal);
        pending = missing.map((m) => m.image);
      }
    } finally {
      client.destroy();
    }
    const result = ctx.inputs.images.map((image) => {
      const name = `${image}:${version}`;
      return { name, digest: found.get(name) ?? '' };
    });
    ctx.facts.push({
      label: 'images verified',
      value: result.map((i) => `<code>${i.name}</code>`).join('<br>'),
    });
    return { images: result };
  },
});
