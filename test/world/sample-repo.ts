import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The sample service's kustomization at its first release. */
export const SAMPLE_FILES: Record<string, string> = {
  'kustomization/kustomization.yaml': [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    '  - deployment.yaml',
    '  - helmrelease.yaml',
    '  - configmap.yml',
    '',
  ].join('\n'),
  'kustomization/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: sample-service',
    '  labels:',
    '    app.kubernetes.io/version: "${APP_PACKAGE_VERSION_TO_BE_REPLACED}"',
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    '        - name: app',
    '          image: 515260921971.dkr.ecr.us-west-2.amazonaws.com/sample_service:${APP_PACKAGE_VERSION_TO_BE_REPLACED}',
    '',
  ].join('\n'),
  'kustomization/helmrelease.yaml': [
    'apiVersion: helm.toolkit.fluxcd.io/v2',
    'kind: HelmRelease',
    'metadata:',
    '  name: sample-service',
    '  # The pipeline replaces $APP_PACKAGE_VERSION_TO_BE_REPLACED (with braces) at bake time.',
    'spec:',
    '  chart:',
    '    spec:',
    '      chart: commons-app',
    '      version: "18.1.1"',
    '  values:',
    '    image:',
    '      tag: ${APP_PACKAGE_VERSION_TO_BE_REPLACED}',
    '',
  ].join('\n'),
  'kustomization/configmap.yml': [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: sample-service-version',
    'data:',
    '  VERSION: "${APP_PACKAGE_VERSION_TO_BE_REPLACED}"',
    '',
  ].join('\n'),
  'README.md': '# sample-service\n',
};

export interface SampleRepo {
  /** `file://` URL to use as GITHUB_SERVER_URL. */
  serverUrl: string;
  /** `owner/name` to use as GITHUB_REPOSITORY. */
  repository: string;
  /** A work tree holding the same history, for checkout: false runs and for making new commits. */
  workTree: string;
  /** Commit each tag points at. */
  tags: Map<string, string>;
  /** Commits `files` (path → content, null deletes) on top of the work tree's HEAD and pushes; returns the commit. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  /** Creates (or with force, moves) a tag at HEAD and pushes it. */
  tag(name: string, options?: { annotated?: boolean; force?: boolean }): Promise<string>;
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Sample Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'Sample Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

/**
 * A real bare repository of the sample service under `dir`, reached through a file:// server URL,
 * with an annotated tag 1.2.3 and a lightweight tag 1.2.4.
 */
export async function createSampleRepo(
  dir: string,
  repository = 'maestra-io/sample-service',
): Promise<SampleRepo> {
  const serverRoot = join(dir, 'git-server');
  const bare = join(serverRoot, repository);
  const workTree = join(dir, 'git-work');
  const git = async (cwd: string, ...args: string[]) =>
    (await run('git', args, { cwd, env: GIT_ENV })).stdout.trim();
  await mkdir(bare, { recursive: true });
  await mkdir(workTree, { recursive: true });
  await git(bare, 'init', '-q', '--bare', '-b', 'main');
  await git(workTree, 'init', '-q', '-b', 'main');
  await git(workTree, 'remote', 'add', 'origin', bare);
  const tags = new Map<string, string>();

  const repo: SampleRepo = {
    serverUrl: `file://${serverRoot}`,
    repository,
    workTree,
    tags,
    async commit(files, message = 'change') {
      for (const [path, content] of Object.entries(files)) {
        const target = join(workTree, path);
        if (content === null) {
          await rm(target, { force: true, recursive: true });
        } else {
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, content);
        }
      }
      await git(workTree, 'add', '-A');
      await git(workTree, 'commit', '-q', '--allow-empty', '-m', message);
      await git(workTree, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
      return git(workTree, 'rev-parse', 'HEAD');
    },
    async tag(name, options = {}) {
      const args = [
        'tag',
        ...(options.force ? ['-f'] : []),
        ...(options.annotated ? ['-a', '-m', `release ${name}`] : []),
        name,
      ];
      await git(workTree, ...args);
      await git(workTree, 'push', '-q', ...(options.force ? ['-f'] : []), 'origin', `refs/tags/${name}`);
      const commit = await git(workTree, 'rev-parse', `${name}^{commit}`);
      tags.set(name, commit);
      return commit;
    },
  };
  await repo.commit(SAMPLE_FILES, 'sample service');
  await repo.tag('1.2.3', { annotated: true });
  await repo.commit(
    { 'kustomization/extra.yaml': 'kind: Note\nnote: ${APP_PACKAGE_VERSION_TO_BE_REPLACED}\n' },
    'next',
  );
  await repo.tag('1.2.4');
  return repo;
}
