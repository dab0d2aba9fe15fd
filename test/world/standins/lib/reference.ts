// Image references parsed like go-containerregistry's name.ParseReference (non-strict: default registry and tag).
export interface Reference {
  /** host[:port] */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_REGISTRY = 'index.docker.io';
const REPO_CHARS = /^[a-z0-9_\-./]+$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export class RefParseError extends Error {}

/** A repository name (`host/path`, no tag or digest), as `name.NewRepository` parses it. */
export function parseRepo(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  let registry = DEFAULT_REGISTRY;
  let repository = name;
  if (slash > 0) {
    const first = name.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      registry = first;
      repository = name.slice(slash + 1);
    }
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || !REPO_CHARS.test(repository) || repository.split('/').some((c) => c === '')) {
    throw new RefParseError(
      `repository can only contain the characters \`abcdefghijklmnopqrstuvwxyz0123456789_-./\`: ${repository}`,
    );
  }
  return { registry, repository };
}

export function parseReference(s: string): Reference {
  try {
    const at = s.indexOf('@');
    if (at >= 0) {
      const digest = s.slice(at + 1);
      if (!DIGEST_RE.test(digest)) {
        throw new RefParseError(
          digest.startsWith('sha256:')
            ? `digest must be of the form sha256:<64 hex>: ${digest}`
            : 'unsupported digest algorithm',
        );
      }
      let base = s.slice(0, at);
      const colon = base.lastIndexOf(':');
      if (colon > base.lastIndexOf('/')) base = base.slice(0, colon); // a tag next to a digest is ignored
      return { ...parseRepo(base), digest };
    }
    const colon = s.lastIndexOf(':');
    if (colon > s.lastIndexOf('/')) {
      const tag = s.slice(colon + 1);
      if (!TAG_RE.test(tag)) {
        throw new RefParseError(
          `tag can only contain the characters \`abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ\`: ${tag}`,
        );
      }
      return { ...parseRepo(s.slice(0, colon)), tag };
    }
    return { ...parseRepo(s), tag: 'latest' };
  } catch (error) {
    if (error instanceof RefParseError) throw new RefParseError(`could not parse reference: ${s}`);
    throw error;
  }
}

/** `registry/repository`, Go's `ref.Context().Name()`. */
export function repoName(ref: Reference): string {
  return `${ref.registry}/${ref.repository}`;
}

export function refString(ref: Reference): string {
  return ref.digest ? `${repoName(ref)}@${ref.digest}` : `${repoName(ref)}:${ref.tag ?? 'latest'}`;
}

/** `sha256-<hex>.sig`: where cosign keeps the signatures of a digest. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}
