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
 * Packages kept in the bundle as CommonJS text and compiled with node:vm when first imported. V8 pre-parses
 * every function of a module before it runs any of it, so code merely wrapped in a lazy function still costs
 * start-up time; a string costs almost nothing. Only import() may reach them (checked after the build).
 * - the AWS SDK (about 390 kB, more than half of index.js): nothing before `assume` needs it, a dry run never.
 * - yaml (about 115 kB): substitute reads chart pins with it and teleport writes tbot's config.
 * Each text maps the specifiers it serves to the export that holds them (undefined: the whole text).
 */
const LAZY = {
  'aws-sdk': {
    source: "export * as ecr from '@aws-sdk/client-ecr';\nexport * as sts from '@aws-sdk/client-sts';",
    serves: { '@aws-sdk/client-ecr': 'ecr', '@aws-sdk/client-sts': 'sts' },
  },
  yaml: { source: "export * from 'yaml';", serves: { yaml: undefined } },
};

// A script run by node:vm has no module loader: dynamic imports of node builtins inside a text become requires.
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

async function lazyText(name, source) {
  const { outputFiles } = await build({
    ...common,
    stdin: { contents: source, resolveDir: process.cwd(), loader: 'js' },
    format: 'cjs',
    write: false,
    plugins: [neverRun, builtinsViaRequire],
  });
  const text = outputFiles[0]?.text ?? '';
  if (/\bimport\(/.test(text))
    throw new Error(`the ${name} text holds a dynamic import(), which node:vm cannot run`);
  return text;
}

/** Each served specifier becomes a stub that requires its text's module, which compiles the text once. */
function lazyTexts(texts) {
  const served = new Map(
    Object.entries(LAZY).flatMap(([name, { serves }]) =>
      Object.entries(serves).map(([spec, part]) => [spec, { name, part }]),
    ),
  );
  return {
    name: 'lazy-texts',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (served.has(args.path)) return { path: args.path, namespace: 'lazy' };
        if (args.path.startsWith('lazy-text:')) return { path: args.path.slice(10), namespace: 'lazy-text' };
        return undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, ({ path }) => {
        const { name, part } = served.get(path);
        return { contents: `module.exports = require('lazy-text:${name}')${part ? `.${part}` : ''};` };
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy-text' }, ({ path }) => ({
        contents: [
          "const { runInThisContext } = require('node:vm');",
          `const source = ${JSON.stringify(texts[path])};`,
          `const run = runInThisContext(\`(function (module, exports, require) {\${source}\\n})\`, { filename: 'bake-oci-manifests/${path}.cjs' });`,
          'run(module, module.exports, require);',
        ].join('\n'),
      }));
    },
  };
}

/** A static import of a lazy text would compile it at start after all: refuse the build instead. */
function assertOnlyImportedLazily(metafile) {
  for (const [file, { imports }] of Object.entries(metafile.inputs)) {
    for (const { path, kind } of imports) {
      if (path.startsWith('lazy:') && kind !== 'dynamic-import') {
        throw new Error(
          `${file} imports ${path.slice(5)} statically (${kind}); it is kept as text: use import()`,
        );
      }
    }
  }
}

const texts = Object.fromEntries(
  await Promise.all(
    Object.entries(LAZY).map(async ([name, { source }]) => [name, await lazyText(name, source)]),
  ),
);
const results = await Promise.all(
  Object.entries(entries).map(([name, entry]) =>
    build({
      ...common,
      entryPoints: [entry],
      outfile: `dist/${name}.js`,
      format: 'esm',
      metafile: true,
      plugins: [neverRun, lazyTexts(texts)],
      // CommonJS dependencies inside an ESM bundle still call require() for node builtins.
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    }),
  ),
);
for (const { metafile } of results) assertOnlyImportedLazily(metafile);
