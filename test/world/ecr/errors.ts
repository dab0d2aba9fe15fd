// The error type of ECR's JSON API (`{"__type": code, "message": ...}`), shared by the server and every operation.

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
