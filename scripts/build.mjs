// Bundles main and post into one self-contained ESM file each, as the runner loads them.
import { build } from 'esbuild';

const entries = { index: 'src/main.ts', post: 'src/post.ts' };

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
      // CommonJS dependencies inside an ESM bundle still call require() for node builtins.
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    }),
  ),
);
