// DescribeRepositories: the named repositories (RepositoryNotFoundException for the first missing one), else all.
import type { Operation } from '../operation.ts';

export const describeRepositories: Operation = async ({ registry }, input) => {
  const names = input['repositoryNames'];
  if (Array.isArray(names) && names.length > 0) {
    return { repositories: names.map((n) => registry.describe(registry.repo(String(n)))) };
  }
  return {
    repositories: [...registry.repos.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => registry.describe(m)),
  };
};
