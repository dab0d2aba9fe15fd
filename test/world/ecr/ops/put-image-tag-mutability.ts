// PutImageTagMutability: changes mutability and exclusion filters of an existing repository.
import type { Operation } from '../operation.ts';
import { validateMutability } from '../state.ts';

export const putImageTagMutability: Operation = async ({ registry }, input) => {
  const meta = registry.repo(String(input['repositoryName'] ?? ''));
  const checked = validateMutability(
    input['imageTagMutability'],
    input['imageTagMutabilityExclusionFilters'],
  );
  meta.mutability = checked.mutability;
  meta.filters = checked.filters;
  return {
    registryId: registry.account,
    repositoryName: meta.name,
    imageTagMutability: meta.mutability,
    ...(meta.filters.length > 0 ? { imageTagMutabilityExclusionFilters: meta.filters } : {}),
  };
};
