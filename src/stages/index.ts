import type { Stage } from '../pipeline.ts';
import { checkout } from './checkout.ts';
import { plan } from './plan.ts';
import { resolve } from './resolve.ts';
import { substitute } from './substitute.ts';

/** Every stage, in dependency order; the pipeline overlaps those that do not depend on each other. */
export const STAGES: readonly Stage[] = [resolve, checkout, substitute, plan];
