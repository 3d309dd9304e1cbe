// Who the AWS credentials on this machine belong to: STS GetCallerIdentity
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html), which needs no
// permission, so it answers exactly "are there credentials, and are they valid". The port is this
// interface; the adapter (sts-adapter.ts) is the only code that speaks to STS.

export interface CallerIdentity {
  account: string;
  /** arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, arn:aws:iam::ACCOUNT:user/NAME, … */
  arn: string;
}

export interface CallerIdentityPort {
  callerIdentity(): Promise<CallerIdentity>;
}

/** No credentials, or AWS refused them; `code` is AWS's error name (InvalidClientTokenId, ExpiredToken, …). */
export class CallerIdentityError extends Error {
  constructor(
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(`STS GetCallerIdentity: ${code}: ${message}`);
    this.name = 'CallerIdentityError';
  }
}
