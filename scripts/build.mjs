// Bundles main and post into one self-contained ESM file each, as the runner loads them.
import { build } from 'esbuild';

const entries = { index: 'src/main.ts', post: 'src/post.ts' };

const fail = (name) => `throw new Error('${name} is not in the bundle of bake-oci-manifests')`;

/**
 * Modules the bundle would carry but never runs, each replaced by a stub that throws if it ever is run:
 * - undici: @actions/http-client imports it only for getAgentDispatcher (Octokit's proxy dispatcher), which
 *   nothing here calls; its own requests and proxy tunnelling use node:http. About 400 kB of each file.
 * - bowser: the AWS SDK's browser user-agent parser, reached only through a dynamic import in browser code.
 * - @aws-sdk/credential-provider-node: the SDK's default credential chain. Every signed call here carries the
 *   credentials from STS, and AssumeRoleWithWebIdentity is unsigned, so ambient credentials are never looked
 *   for (nor should they be). About 90 kB.
 */
const NEVER_RUN = {
  undici: `export class ProxyAgent { constructor() { ${fail('undici')}; } }`,
  bowser: `export function parse() { ${fail('bowser')}; }\nexport default { parse };`,
  '@aws-sdk/credential-provider-node': `export const defaultProvider = () => async () => { ${fail('the default AWS credential chain')}; };`,
};

const neverRun = {
  name: 'never-run',
  setup(b) {
    // The names hold only letters, '@', '/' and '-', which match themselves in a regular expression.
    b.onResolve({ filter: new RegExp(`^(${Object.keys(NEVER_RUN).join('|')})$`) }, (args) => ({
      path: args.path,
      namespace: 'never-run',
    }));
    b.onLoad({ filter: /.*/, namespace: 'never-run' }, ({ path }) => ({ contents: NEVER_RUN[path] }));
  },
};

await Promise.all(
  Object.entries(entries).map(([name, entry]) =>
    build({
      entryPoints: [entry],
      outfile: `dist/${name}.js`,
      bundle: true,
      splitting: false,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: true,
      legalComments: 'none',
      logLevel: 'warning',
      plugins: [neverRun],
      // CommonJS dependencies inside an ESM bundle still call require() for node builtins.
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    }),
  ),
);
