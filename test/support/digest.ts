import { createHash } from 'node:crypto';

/** The OCI digest of these bytes: `sha256:<hex>`. */
export const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
