import type { ECRClient } from '@aws-sdk/client-ecr';
import { ecrClient, ecrRetry, ecrSdk } from '../aws.ts';
import { type Context, need } from '../context.ts';
import { type Copied, copyByDigest } from '../copy-image.ts';
import { signatureTag } from '../cosign.ts';
import { ActionError } from '../errors.ts';
import type { Log } from '../log.ts';
import {
  checkReference,
  judgeArtifact,
  judgeSignature,
  type MirrorPlace,
  type SignatureAction,
  signatureLayers,
  waitUntilStored,
  where,
} from '../mirror-rules.ts';
import { MEDIA_TYPES, ociClientFor, RegistryError } from '../oci.ts';
import { remoteOnly, stage } from '../pipeline.ts';
import { retry } from '../retry.ts';
import { checkImage } from './images.ts';
import { ecrAuthorization } from './login.ts';
import { ensureRepository } from './repository.ts';

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

/** What one region's ECR says it stores under a tag or digest (DescribeImages), never a registry read. */
async function stored(
  ctx: Context,
  client: ECRClient,
  region: string,
  repository: string,
  reference: string,
  log: Log,
): Promise<string | undefined> {
  try {
    const check = await checkImage(client, repository, reference, ctx.signal, log);
    return 'digest' in check ? check.digest : undefined;
  } catch (error) {
    throw new ActionError(`ECR ${region} did not say what it stores for ${repository} ${reference}`, {
      hint: `check that the role allows ecr:DescribeImages on ${repository} in ${region}`,
      cause: error,
    });
  }
}

/** The signatures in a region's signature manifest, read through ECR's API (BatchGetImage), not the registry. */
async function storedSignatures(
  ctx: Context,
  client: ECRClient,
  region: string,
  repository: string,
  tag: string,
  log: Log,
): Promise<string[]> {
  const { BatchGetImageCommand } = await ecrSdk();
  try {
    const answer = await retry(
      () =>
        client.send(
          new BatchGetImageCommand({
            repositoryName: repository,
            imageIds: [{ imageTag: tag }],
            acceptedMediaTypes: [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest],
          }),
          { abortSignal: ctx.signal },
        ),
      ecrRetry(ctx.signal, log, `BatchGetImage ${repository}:${tag}`),
    );
    const manifest = answer.images?.[0]?.imageManifest;
    if (!manifest) throw new Error(answer.failures?.[0]?.failureReason ?? 'no manifest returned');
    return signatureLayers(Buffer.from(manifest, 'utf8'));
  } catch (error) {
    throw new ActionError(`ECR ${region} did not return the signature manifest ${repository}:${tag}`, {
      hint: `check that the role allows ecr:BatchGetImage on ${repository} in ${region}`,
      cause: error,
    });
  }
}

/** Both regions as the mirror sees them: what each stores, by its ECR's own account. */
interface Regions {
  primary: ECRClient;
  secondary: ECRClient;
  inPrimary(reference: string): Promise<string | undefined>;
  inSecondary(reference: string): Promise<string | undefined>;
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
    regions.inPrimary(place.tag),
    regions.inPrimary(sigTag),
  ]);
  checkReference(baked, primaryTag, place);
  const repository = await ensureRepository(ctx, place.region, place.repository, place.tag, log);
  const [secondaryTag, secondarySig] = await Promise.all([
    regions.inSecondary(place.tag),
    regions.inSecondary(sigTag),
  ]);
  log.info(
    `${place.primaryRegion} stores ${baked} under ${place.repository}:${place.tag}; ${place.region} stores ${secondaryTag ?? 'nothing'} there`,
  );
  const artifact = judgeArtifact(baked, secondaryTag, place);
  // Only two different signature manifests need their contents compared.
  const [primaryLayers, secondaryLayers] =
    primarySig && secondarySig && primarySig !== secondarySig
      ? await Promise.all([
          storedSignatures(ctx, regions.primary, place.primaryRegion, place.repository, sigTag, log),
          storedSignatures(ctx, regions.secondary, place.region, place.repository, sigTag, log),
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
  if (!primarySig && ctx.inputs.sign) log.warning(`${place.primaryRegion} holds no ${sigTag} to mirror`);
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
  const { authorization } = need(ctx, 'login');
  // Reads come from the primary only; the secondary is written to and asked about through ECR's API.
  const source = ociClientFor(ctx, log, ctx.inputs.ecrRegistry, authorization);
  const sink = ociClientFor(ctx, log, place.registry, await ecrAuthorization(ctx, place.region, log));
  log.info(`logged in to ${place.registry} (${place.region}); the credentials stay in memory`);
  let copied: Copied | undefined;
  if (plan.artifact === 'copy') {
    copied = await copyByDigest(source, sink, place.repository, baked);
    log.info(`copied ${place.repository}@${baked} and its ${copied.blobs} blobs to ${place.registry}`);
    const what = `${place.repository}@${baked} in ${place.region}`;
    await waitUntilStored(() => regions.inSecondary(baked), what, log, { signal: ctx.signal });
  }
  if (plan.primarySig && (plan.signature === 'copy' || plan.signature === 'replace')) {
    // Before the version tag, so a Flux that sees the tag there finds its signature already in place.
    const sig = await copyByDigest(source, sink, place.repository, plan.primarySig);
    await sink.putManifest(place.repository, sigTag, sig.mediaType, sig.body);
    log.info(
      `${plan.signature === 'replace' ? 'replaced' : 'copied'} ${sigTag} (${plan.primarySig}) in ${place.region}`,
    );
  }
  if (copied) {
    try {
      await sink.putManifest(place.repository, place.tag, copied.mediaType, copied.body);
    } catch (error) {
      // Another run tagged it meanwhile; what the tag holds is checked next either way.
      if (!(error instanceof RegistryError && error.code === 'TAG_INVALID')) throw error;
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
  const what = `${place.repository}:${place.tag} in ${place.region}`;
  const [primaryAfter, secondaryAfter, secondarySig] = await Promise.all([
    regions.inPrimary(place.tag),
    waitUntilStored(() => regions.inSecondary(place.tag), what, log, { signal: ctx.signal }),
    primarySig ? regions.inSecondary(sigTag) : undefined,
  ]);
  checkReference(baked, primaryAfter, place);
  judgeArtifact(baked, secondaryAfter, place);
  if (secondarySig !== primarySig) {
    throw new ActionError(`${where(place, sigTag)} holds ${secondarySig ?? 'nothing'}, not ${primarySig}`, {
      hint: 'another run may be signing or mirroring at the same time; re-run the job',
    });
  }
  log.info(
    `✔ ${place.primaryRegion} and ${place.region} both store ${baked} under ${place.repository}:${place.tag}`,
  );
}

const code = (value: string) => `<code>${value}</code>`;

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
    const place: MirrorPlace = { primaryRegion: ctx.inputs.awsRegion, ...secondary, repository, tag };
    const sigTag = signatureTag(baked);
    const [primary, other] = await Promise.all([
      ecrClient(ctx, place.primaryRegion),
      ecrClient(ctx, place.region),
    ]);
    const regions: Regions = {
      primary,
      secondary: other,
      inPrimary: (reference) => stored(ctx, primary, place.primaryRegion, repository, reference, log),
      inSecondary: (reference) => stored(ctx, other, place.region, repository, reference, log),
    };
    const target = code(`${secondary.registry}/${repository}:${tag}`);
    try {
      const plan = await survey(ctx, log, regions, place, baked, sigTag);
      if (plan.artifact === 'mirrored' && (plan.signature === 'mirrored' || plan.signature === 'none')) {
        const also = plan.signature === 'mirrored' ? ' and its signature' : '';
        log.info(`✔ ${where(place)} already holds ${baked}${also}; nothing written`);
        ctx.facts.push({
          label: 'mirror',
          value: `already mirrored: ${target} (${secondary.region}) holds this digest`,
        });
        return { ...secondary, outcome: 'already mirrored', signature: plan.signature };
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
        value: `copied to ${target} (${secondary.region}): ${parts.join(', ')}`,
      });
      return { ...secondary, outcome: 'copied', signature: plan.signature };
    } finally {
      primary.destroy();
      other.destroy();
    }
  },
});
