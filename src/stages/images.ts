import { code, lines, need } from '../context.ts';
import { Ecr, type ImageCheck } from '../ecr.ts';
import { ActionError } from '../errors.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { sleep } from '../retry.ts';

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

const POLL_FIRST_MS = 2_000;
const POLL_MAX_MS = 15_000;

export const images = stage({
  name: 'images',
  needs: ['resolve', 'assume'],
  skip: (ctx) =>
    remoteOnly(ctx) ?? (ctx.inputs.images.length === 0 ? 'images is empty: nothing to check' : undefined),
  async run(ctx, log) {
    const { version } = need(ctx, 'resolve');
    const region = ctx.inputs.registry.region;
    const ecr = await Ecr.forRun(ctx, ctx.inputs.registry, log);
    const deadline = Date.now() + ctx.inputs.waitForImages * 1000;
    const found = new Map<string, string>();
    let pending = [...ctx.inputs.images];
    try {
      for (let round = 0; ; round++) {
        const checks = await Promise.all(pending.map((image) => ecr.image(image, version)));
        const missing: Extract<ImageCheck, { absent: string }>[] = [];
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
      ecr.close();
    }
    const result = ctx.inputs.images.map((image) => {
      const name = `${image}:${version}`;
      return { name, digest: found.get(name) ?? '' };
    });
    ctx.facts.push({
      label: 'images verified',
      value: lines(result.map((i) => code(i.name))),
    });
    return { images: result };
  },
});
