import { type Context, code, need } from '../context.ts';
import { type Copied, copyByDigest } from '../copy-image.ts';
import { signatureTag } from '../cosign.ts';
import { Ecr } from '../ecr.ts';
import { ActionError } from '../errors.ts';
import { HttpStatusError } from '../http.ts';
import type { Log } from '../log.ts';
import {
  checkReference,
  judgeArtifact,
  judgeSignature,
  type MirrorPlace,
  type SignatureAction,
  waitUntilStored,
  where,
} from '../mirror-rules.ts';
import { ociClientFor } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';

export interface Mirrored {
  region: string;
  registry: string;
  /** `copied`: this run wrote to the secondary region; `already mirrored`: it held everything already. */
  outcome: 'copied' | 'already mirrored';
  signature: SignatureAction;
}

declare module '../context.ts' {
  interface Results {
    mirror: Mirrored;
  }
}

/** Both regions as the mirror sees them: what each stores, through its own registry's ECR API. */
interface Regions {
  primary: Ecr;
  secondary: Ecr;
}

/** What this run has to write, decided before anything is written. */
interface Survey {
  artifact: 'copy' | 'mirrored';
  signature: SignatureAction;
  /** The primary's signature manifest digest, when it holds one. */
  primarySig: string | undefined;
}

async function survey(
  ctx: Context,
  log: Log,
  regions: Regions,
  place: MirrorPlace,
  baked: string,
  sigTag: string,
): Promise<Survey> {
  const [primaryTag, primarySig] = await Promise.all([
    regions.primary.stored(place.repository, place.tag),
    regions.primary.stored(place.repository, sigTag),
  ]);
  checkReference(baked, primaryTag, place);
  const repository = await regions.secondary.ensureRepository(place.repository, place.tag);
  const [secondaryTag, secondarySig] = await Promise.all([
    regions.secondary.stored(place.repository, place.tag),
    regions.secondary.stored(place.repository, sigTag),
  ]);
  log.info(
    `${place.primary.region} stores ${baked} under ${place.repository}:${place.tag}; ${place.secondary.region} stores ${secondaryTag ?? 'nothing'} there`,
  );
  const artifact = judgeArtifact(baked, secondaryTag, place);
  // Only two different signature manifests need their contents compared.
  const [primaryLayers, secondaryLayers] =
    primarySig && secondarySig && primarySig !== secondarySig
      ? await Promise.all([
          regions.primary.signatures(place.repository, sigTag),
          regions.secondary.signatures(place.repository, sigTag),
        ])
      : [undefined, undefined];
  const signature = judgeSignature(
    primarySig ? { digest: primarySig, ...(primaryLayers ? { layers: primaryLayers } : {}) } : undefined,
    secondarySig
      ? { digest: secondarySig, ...(secondaryLayers ? { layers: secondaryLayers } : {}) }
      : undefined,
    repository.signaturesWritable,
    place,
    sigTag,
  );
  if (!primarySig && ctx.inputs.sign) log.warning(`${place.primary.region} holds no ${sigTag} to mirror`);
  return { artifact, signature, primarySig };
}

/** Copies what the survey found missing: artifact by digest, signature, then the version tag last. */
async function copy(
  ctx: Context,
  log: Log,
  regions: Regions,
  place: MirrorPlace,
  baked: string,
  sigTag: string,
  plan: Survey,
): Promise<number> {
  const { authorization } = await need(ctx, 'login').fresh(log);
  // Reads come from the primary only; the secondary is written to and asked about through ECR's API.
  const source = ociClientFor(ctx, log, place.primary.host, authorization);
  const sink = ociClientFor(ctx, log, place.secondary.host, (await regions.secondary.authorization()).token);
  log.info(
    `logged in to ${place.secondary.host} (${place.secondary.region}); the credentials stay in memory`,
  );
  let copied: Copied | undefined;
  if (plan.artifact === 'copy') {
    copied = await copyByDigest(source, sink, place.repository, baked);
    log.info(`copied ${place.repository}@${baked} and its ${copied.blobs} blobs to ${place.secondary.host}`);
    const what = `${place.repository}@${baked} in ${place.secondary.region}`;
    const look = () => regions.secondary.stored(place.repository, baked);
    await waitUntilStored(look, what, log, { signal: ctx.signal });
  }
  if (plan.primarySig && (plan.signature === 'copy' || plan.signature === 'replace')) {
    // Before the version tag, so a Flux that sees the tag there finds its signature already in place.
    const sig = await copyByDigest(source, sink, place.repository, plan.primarySig);
    await sink.putManifest(place.repository, sigTag, sig.mediaType, sig.body);
    log.info(
      `${plan.signature === 'replace' ? 'replaced' : 'copied'} ${sigTag} (${plan.primarySig}) in ${place.secondary.region}`,
    );
  }
  if (copied) {
    try {
      await sink.putManifest(place.repository, place.tag, copied.mediaType, copied.body);
    } catch (error) {
      // Another run tagged it meanwhile; what the tag holds is checked next either way.
      if (!(error instanceof HttpStatusError && error.code === 'TAG_INVALID')) throw error;
      log.info(`${where(place)} was tagged by another run meanwhile; checking what it holds`);
    }
  }
  return copied?.blobs ?? 0;
}

/** Both regions store the baked digest under the tag, and the secondary the primary's signature. */
async function confirm(
  ctx: Context,
  log: Log,
  regions: Regions,
  place: MirrorPlace,
  baked: string,
  sigTag: string,
  primarySig: string | undefined,
) {
  const what = `${place.repository}:${place.tag} in ${place.secondary.region}`;
  const look = () => regions.secondary.stored(place.repository, place.tag);
  const [primaryAfter, secondaryAfter, secondarySig] = await Promise.all([
    regions.primary.stored(place.repository, place.tag),
    waitUntilStored(look, what, log, { signal: ctx.signal }),
    primarySig ? regions.secondary.stored(place.repository, sigTag) : undefined,
  ]);
  checkReference(baked, primaryAfter, place);
  judgeArtifact(baked, secondaryAfter, place);
  if (secondarySig !== primarySig) {
    throw new ActionError(`${where(place, sigTag)} holds ${secondarySig ?? 'nothing'}, not ${primarySig}`, {
      hint: 'another run may be signing or mirroring at the same time; re-run the job',
    });
  }
  log.info(
    `✔ ${place.primary.region} and ${place.secondary.region} both store ${baked} under ${place.repository}:${place.tag}`,
  );
}

/**
 * Mirrors the verified artifact (and its signature tag) to the secondary region. Every decision comes from what
 * each region's ECR says it stores (DescribeImages), never from a registry read there: a pull-through cache rule
 * can answer for content the region does not hold. The copy is by digest, then tagged, then checked in both regions.
 */
export const mirror = stage({
  name: 'mirror',
  // A broken artifact is never mirrored: only what was pulled back and checked goes out.
  needs: ['plan', 'login', 'push', 'verify-artifact'],
  // The signature is verified before it is mirrored; with `sign: false` that stage is skipped.
  after: ['verify-signature'],
  skip: (ctx) =>
    remoteOnly(ctx) ?? (ctx.inputs.secondary ? undefined : 'aws-region-secondary is empty: no mirror'),
  async run(ctx, log) {
    const secondary = ctx.inputs.secondary;
    if (!secondary) throw new Error('internal: mirror ran without a secondary region');
    if (ctx.inputs.sign && !ctx.results['verify-signature']) {
      throw new Error('internal: mirror ran before the signature was verified');
    }
    const { tag } = need(ctx, 'plan');
    const { digest: baked } = need(ctx, 'push');
    const repository = ctx.inputs.repository;
    const place: MirrorPlace = { primary: ctx.inputs.registry, secondary, repository, tag };
    const sigTag = signatureTag(baked);
    const [primary, other] = await Promise.all([
      Ecr.forRun(ctx, place.primary, log),
      Ecr.forRun(ctx, secondary, log),
    ]);
    const regions: Regions = { primary, secondary: other };
    const mirroredTo = { region: secondary.region, registry: secondary.host };
    const target = code(`${secondary.host}/${repository}:${tag}`);
    try {
      const plan = await survey(ctx, log, regions, place, baked, sigTag);
      if (plan.artifact === 'mirrored' && (plan.signature === 'mirrored' || plan.signature === 'none')) {
        const also = plan.signature === 'mirrored' ? ' and its signature' : '';
        log.info(`✔ ${where(place)} already holds ${baked}${also}; nothing written`);
        ctx.facts.push({
          label: 'mirror',
          value: ['already mirrored: ', target, ` (${secondary.region}) holds this digest`],
        });
        return { ...mirroredTo, outcome: 'already mirrored', signature: plan.signature };
      }
      const blobs = await copy(ctx, log, regions, place, baked, sigTag, plan);
      await confirm(ctx, log, regions, place, baked, sigTag, plan.primarySig);
      const parts = [
        plan.artifact === 'copy' ? `${blobs} blobs and the manifest copied` : 'artifact already there',
        ...(plan.signature === 'copy' ? ['signature copied'] : []),
        ...(plan.signature === 'replace' ? ['signature replaced'] : []),
      ];
      ctx.facts.push({
        label: 'mirror',
        value: ['copied to ', target, ` (${secondary.region}): ${parts.join(', ')}`],
      });
      return { ...mirroredTo, outcome: 'copied', signature: plan.signature };
    } finally {
      primary.close();
      other.close();
    }
  },
});
