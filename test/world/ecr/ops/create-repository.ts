// CreateRepository: name, tag mutability and exclusion filters validated as ECR does.
import type { Operation } from '../operation.ts';

export const createRepository: Operation = async ({ registry }, input) => {
  const meta = registry.create(
    input['repositoryName'],
    input['imageTagMutability'],
    input['imageTagMutabilityExclusionFilters'],
  );
  return { repository: registry.describe(meta) };
};
