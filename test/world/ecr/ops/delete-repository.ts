// DeleteRepository: refuses a repository that still holds images unless `force`, then drops it from the registry too.
import { rm } from 'node:fs/promises';
import { EcrError } from '../errors.ts';
import { imagesOf, repoDir } from '../images.ts';
import type { Operation } from '../operation.ts';

export const deleteRepository: Operation = async ({ registry }, input) => {
  const meta = registry.repo(String(input['repositoryName'] ?? ''));
  const images = await imagesOf(registry, meta.name);
  if (images.size > 0 && input['force'] !== true) {
    throw new EcrError(
      'RepositoryNotEmptyException',
      `The repository with name '${meta.name}' in registry with id '${registry.account}' cannot be deleted because it still contains images`,
    );
  }
  const described = registry.describe(meta);
  registry.repos.delete(meta.name);
  await rm(repoDir(registry, meta.name), { recursive: true, force: true });
  return { repository: described };
};
