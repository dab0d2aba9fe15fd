// Bundles main and post into one self-contained ESM file each, as the runner loads them.
import { build } from 'esbuild';

const entries = { index: 'src/main.ts', post: 'src/post.ts' };
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

const fail = (name) => `throw new Error('${name} is not in the bundle of bake-oci-manifests')`;

/**
 * Modules the bundle would carry but never runs, each replaced by a stub that throws if it ever is run:
 * - @actions/http-client: @actions/core needs it only for getIDToken and @actions/tool-cache only for
 *   downloadTool; the action calls neither (src/signer.ts and src/tools.ts use fetch, with timeouts). Its
 *   imports of node:http/https also cost Node 24 ~15 ms at start (their ESM facades load Node's undici).
 * - undici: @actions/http-client imports it only for Octokit's proxy dispatcher. About 400 kB.
 * - bowser: the AWS SDK's browser user-agent parser, reached only through a dynamic import in browser code.
 * - @aws-sdk/credential-provider-node: the SDK's default credential chain. Every signed call here carries the
 *   credentials from STS, and AssumeRoleWithWebIdentity is unsigned, so ambient credentials are never looked
 *   for (nor should they be). About 90 kB.
 */
const NEVER_RUN = {
  '@actions/http-client': `export class HttpClient { constructor() { ${fail('@actions/http-client')}; } }`,
  '@actions/http-client/lib/auth': `export class BearerCredentialHandler { constructor() { ${fail('@actions/http-client')}; } }`,
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

/**
 * The AWS SDK as one CommonJS text (about 390 kB, half of index.js). V8 pre-parses every function of a module
 * before it runs a line of it; kept in a string, the SDK is compiled only when a stage first talks to AWS
 * (src/aws.ts imports it lazily), so the action starts about 40 ms sooner and a dry run never compiles it.
 */
async function awsSdkText() {
  // A script run by node:vm has no module loader: the SDK's few dynamic imports of node builtins become requires.
  const builtinsViaRequire = {
    name: 'builtins-via-require',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) =>
        args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, ({ path }) => ({
        contents: `module.exports = require('${path}');`,
      }));
    },
  };
  const { outputFiles } = await build({
    ...common,
    stdin: {
      contents: "export * as ecr from '@aws-sdk/client-ecr';\nexport * as sts from '@aws-sdk/client-sts';",
      resolveDir: process.cwd(),
      loader: 'js',
    },
    format: 'cjs',
    write: false,
    plugins: [neverRun, builtinsViaRequire],
  });
  const text = outputFiles[0]?.text ?? '';
  if (/\bimport\(/.test(text))
    throw new Error('the AWS SDK text still holds a dynamic import(), which node:vm cannot run');
  return text;
}

/** `import('@aws-sdk/client-ecr' | '@aws-sdk/client-sts')` resolves to its part of the SDK text, compiled once on first use. */
function lazyAwsSdk(text) {
  return {
    name: 'lazy-aws-sdk',
    setup(b) {
      b.onResolve({ filter: /^@aws-sdk\/client-(ecr|sts)$/ }, (args) => ({
        path: args.path.slice(-3),
        namespace: 'aws-sdk',
      }));
      b.onResolve({ filter: /^aws-sdk-text$/ }, () => ({ path: 'text', namespace: 'aws-sdk' }));
      b.onLoad({ filter: /^(ecr|sts)$/, namespace: 'aws-sdk' }, ({ path }) => ({
        contents: `module.exports = require('aws-sdk-text').${path};`,
      }));
      b.onLoad({ filter: /^text$/, namespace: 'aws-sdk' }, () => ({
        contents: [
          "const { runInThisContext } = require('node:vm');",
          `const source = ${JSON.stringify(text)};`,
          "const run = runInThisContext(`(function (module, exports, require) {${source}\\n})`, { filename: 'bake-oci-manifests/aws-sdk.cjs' });",
          'run(module, module.exports, require);',
        ].join('\n'),
      }));
    },
  };
}

const sdkText = await awsSdkText();
await Promise.all(
  Object.entries(entries).map(([name, entry]) =>
    build({
      ...common,
      entryPoints: [entry],
      outfile: `dist/${name}.js`,
      format: 'esm',
      plugins: [neverRun, lazyAwsSdk(sdkText)],
      // CommonJS dependencies inside an ESM bundle still call require() for node builtins.
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    }),
  ),
);
