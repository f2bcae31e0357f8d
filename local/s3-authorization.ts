import type { SandboxSession } from './contracts';
import { sessionArn, type PolicyModel } from './policy-model';
import { accessDenied, type S3Error } from './s3-errors';
import {
  Authorizer,
  keyProblem,
  objectArn,
  type AccessCheck,
  type S3Operation,
} from './s3-operations';
import type { DeleteRequest } from './s3-xml';

/**
 * The authorization step: the session's role policies (and session policy) decide each IAM
 * check of a request, and each key of a DeleteObjects request on its own; a refusal carries
 * S3's AccessDenied message, naming the caller as AWS does.
 */

/** A check the session failed. */
export interface Denial {
  /** The answer to the client. */
  readonly error: S3Error;
  /** Why, for the access log. */
  readonly reason: string;
}

export class Authorization {
  private readonly authorizer: Authorizer;

  constructor(private readonly model: PolicyModel) {
    this.authorizer = new Authorizer(model);
  }

  /** The first check the session fails, with S3's message for it. */
  firstDenied(session: SandboxSession, checks: readonly AccessCheck[]): Denial | undefined {
    for (const check of checks) {
      const decision = this.authorizer.decide(session, check);
      if (!decision.allowed) {
        const role = this.model.roles.find((r) => r.logicalId === session.roleLogicalId);
        const who = role ? sessionArn(this.model, role, session.sessionName) : session.roleArn;
        return {
          reason: `${check.action} on ${check.resource}: ${decision.reason}`,
          error: accessDenied(
            `User: ${who} is not authorized to perform: ${check.action} on resource: "${check.resource}" (${decision.reason})`,
          ),
        };
      }
    }
    return undefined;
  }

  /**
   * Why one key of a DeleteObjects request may not be deleted (its entry in the answer's
   * errors), or undefined when it may.
   */
  deleteRefusal(
    session: SandboxSession,
    bucket: string,
    object: DeleteRequest['objects'][number],
  ): string | undefined {
    const problem = keyProblem(object.key);
    const check: AccessCheck | undefined = problem
      ? undefined
      : {
          action: object.versionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject',
          resource: objectArn(this.model, bucket, object.key),
        };
    const decision = check ? this.authorizer.decide(session, check) : { allowed: false };
    return decision.allowed ? undefined : (problem ?? 'Access Denied');
  }
}

/** The IAM actions a request is checked for, for the access log. */
export const checkedActions = (op: S3Operation): string[] =>
  // DeleteObjects authorizes each key when it reads the body.
  op.handler === 'delete-objects' ? ['s3:DeleteObject'] : op.checks.map((c) => c.action);
