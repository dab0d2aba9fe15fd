// The ECR operations the world serves, by X-Amz-Target operation name (AmazonEC2ContainerRegistry_V20150921.<name>).
import type { Operation } from '../operation.ts';
import { batchDeleteImage } from './batch-delete-image.ts';
import { batchGetImage } from './batch-get-image.ts';
import { createRepository } from './create-repository.ts';
import { deleteRepository } from './delete-repository.ts';
import { describeImages } from './describe-images.ts';
import { describeRepositories } from './describe-repositories.ts';
import { getAuthorizationToken } from './get-authorization-token.ts';
import { listImages } from './list-images.ts';
import { putImageTagMutability } from './put-image-tag-mutability.ts';

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  GetAuthorizationToken: getAuthorizationToken,
  DescribeRepositories: describeRepositories,
  CreateRepository: createRepository,
  PutImageTagMutability: putImageTagMutability,
  DeleteRepository: deleteRepository,
  DescribeImages: describeImages,
  ListImages: listImages,
  BatchGetImage: batchGetImage,
  BatchDeleteImage: batchDeleteImage,
};

/** Operations without a `registryId` member: they always act for the caller's own account. */
export const WITHOUT_REGISTRY_ID: ReadonlySet<string> = new Set(['GetAuthorizationToken']);
