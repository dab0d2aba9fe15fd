// Fails when the committed dist/ differs from a fresh build of src/.
import { execFileSync } from 'node:child_process';

execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const diff = execFileSync('git', ['status', '--porcelain', '--', 'dist'], { encoding: 'utf8' });
if (diff.trim() !== '') {
  console.error(`dist/ is stale; run \`npm run build\` and commit it:\n${diff}`);
  process.exit(1);
}
console.log('dist/ matches a fresh build');
