// The error type of ECR's JSON API (`{"__type": code, "message": ...}`) and the errors several operations share.

/** An error ECR's JSON API sends: `{"__type": code, "message": ...}`. */
export class EcrError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A `registryId` that is not 12 digits: ECR's validation text for the member. */
export const invalidRegistryId = () =>
  new EcrError(
    'InvalidParameterException',
    "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression [0-9]{12}'",
  );

/** A call on a registry no policy lets the caller reach (here: an account the world does not have). */
export const accessDenied = (callerArn: string, operation: string, resourceArn: string) =>
  new EcrError(
    'AccessDeniedException',
    `User: ${callerArn} is not authorized to perform: ecr:${operation} on resource: ${resourceArn} because no resource-based policy allows the ecr:${operation} action`,
  );
