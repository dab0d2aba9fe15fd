import type { Stage } from '../pipeline.ts';
import { assume } from './assume.ts';
import { checkout } from './checkout.ts';
import { images } from './images.ts';
import { installCosign } from './install-cosign.ts';
import { installFlux } from './install-flux.ts';
import { installTbot } from './install-tbot.ts';
import { login } from './login.ts';
import { mirror } from './mirror.ts';
import { plan } from './plan.ts';
import { preflight } from './preflight.ts';
import { push } from './push.ts';
import { repository } from './repository.ts';
import { resolve } from './resolve.ts';
import { sign } from './sign.ts';
import { substitute } from './substitute.ts';
import { teleport } from './teleport.ts';
import { teleportVersion } from './teleport-version.ts';
import { verifyArtifact } from './verify-artifact.ts';
import { verifySignature } from './verify-signature.ts';

/** Every stage, in dependency order; the pipeline overlaps those that do not depend on each other. */
export const STAGES: readonly Stage[] = [
  preflight,
  resolve,
  checkout,
  substitute,
  plan,
  teleportVersion,
  installTbot,
  installFlux,
  installCosign,
  teleport,
  assume,
  login,
  images,
  repository,
  push,
  sign,
  verifySignature,
  verifyArtifact,
  mirror,
];
