import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import { createValidatedPolicy, validateIdentityPolicy } from '@cloud-copilot/iam-policy';
import type { SandboxSession } from './contracts';
import { evaluateS3 } from './policy';
import { sessionArn, type PolicyModel, type WebIdentityRoleModel } from './policy-model';
import { unknownConditionOperators, type SimulationPolicy } from './policy-validation';
import { accessDenied, type S3Error } from './s3-errors';
import { keyProblem } from './s3-keys';
import { objectArn, type AccessCheck, type S3Operation } from './s3-operations';
import type { DeleteRequest } from './s3-xml';

/**
 * The authorization step: the session's role policies (and session policies) decide each
 * IAM check of a request (`Authorizer`, memoized per session), and each key of a
 * DeleteObjects request on its own; a refusal carries S3's AccessDenied message, naming the
 * caller as AWS does (`Authorization`).
 */

/** Provider keys of a session that bind policy variables; `aws:` and `s3:` keys are the server's. */
function sessionClaims(session: SandboxSession): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [k, v] of Object.entries(session.contextKeys)) {
    if (!/^(aws|s3):/i.test(k)) claims[k] = v;
  }
  return claims;
}

/** The outcome of one check, with the reason when denied (for the log and the message). */
export interface Decision {
  readonly allowed: boolean;
  readonly reason?: string;
}

const MAX_DECISIONS_PER_SESSION = 1000;

/**
 * Evaluates checks for a session: the role's identity policies and the bucket policy with
 * iam-simulate (through `evaluateS3`), then the session policies on their own, since
 * iam-simulate ignores session policies. Effective access is the intersection: a request
 * is allowed only when the role allows it and the session policies allow it. The session
 * policies (the inline `Policy` and each of `PolicyArns`) are one set, as IAM evaluates
 * them: an Allow in any of them counts, a Deny in any of them wins.
 */
export class Authorizer {
  private readonly sessionPolicies = new WeakMap<
    SandboxSession,
    readonly SimulationPolicy[] | string
  >();

  /**
   * Decisions per session. A decision is a pure function of the (immutable) session, the
   * check and the policy model, so repeated requests (a browser listing, a client reading
   * the same object) skip iam-simulate. Bounded per session.
   */
  private readonly decisions = new WeakMap<SandboxSession, Map<string, Decision>>();

  constructor(private readonly model: PolicyModel) {}

  decide(session: SandboxSession, check: AccessCheck): Decision {
    let memo = this.decisions.get(session);
    if (!memo) {
      memo = new Map();
      this.decisions.set(session, memo);
    }
    const key = JSON.stringify([check.action, check.resource, check.prefix ?? null]);
    const hit = memo.get(key);
    if (hit) return hit;
    let decision: Decision;
    try {
      decision = this.evaluate(session, check);
    } catch (e) {
      // Fail closed: an evaluation that cannot complete is a denial, never an allow.
      decision = { allowed: false, reason: `evaluation failed: ${(e as Error).message}` };
    }
    if (memo.size >= MAX_DECISIONS_PER_SESSION) memo.clear();
    memo.set(key, decision);
    return decision;
  }

  private evaluate(session: SandboxSession, check: AccessCheck): Decision {
    const role = this.model.roles.find((r) => r.logicalId === session.roleLogicalId);
    if (!role)
      return {
        allowed: false,
        reason: `no web identity role ${session.roleLogicalId} in the template`,
      };
    const claims = sessionClaims(session);
    const request = {
      action: check.action,
      resource: check.resource,
      claims,
      prefix: check.prefix,
      sessionName: session.sessionName,
    };
    const identity = evaluateS3(this.model, role, request);
    if (identity !== 'Allowed') return { allowed: false, reason: `role policies: ${identity}` };
    const policies = this.sessionPoliciesOf(session);
    if (typeof policies === 'string') return { allowed: false, reason: policies };
    if (policies.length > 0) {
      const result = this.evaluateSessionPolicies(role, session, policies, check, claims);
      if (result !== 'Allowed') return { allowed: false, reason: `session policies: ${result}` };
    }
    return { allowed: true };
  }

  /** The session's validated policies (none: not narrowed), or why they cannot be used. */
  private sessionPoliciesOf(session: SandboxSession): readonly SimulationPolicy[] | string {
    const cached = this.sessionPolicies.get(session);
    if (cached !== undefined) return cached;
    const result = this.loadSessionPolicies(session);
    this.sessionPolicies.set(session, result);
    return result;
  }

  private loadSessionPolicies(session: SandboxSession): readonly SimulationPolicy[] | string {
    const policies: SimulationPolicy[] = [];
    for (const arn of session.sessionPolicyArns ?? []) {
      const managed = this.model.managedPolicies.get(arn);
      // Ignoring a session policy would widen the session: one the sandbox lacks denies.
      if (!managed) return `the managed session policy ${arn} is not in the template`;
      policies.push(managed);
    }
    if (session.sessionPolicy !== undefined && session.sessionPolicy !== null) {
      const unknown = unknownConditionOperators(session.sessionPolicy);
      if (unknown.length > 0) {
        // iam-simulate would ignore these operators (failing open for Deny): refuse instead.
        return `the session policy uses condition operators the sandbox cannot evaluate: ${unknown.join('; ')}`;
      }
      const policy = createValidatedPolicy(session.sessionPolicy, validateIdentityPolicy, {
        name: 'session-policy',
      });
      if (policy.errors.length > 0) {
        return `the session policy is invalid: ${policy.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
      }
      policies.push(policy);
    }
    return policies;
  }

  private evaluateSessionPolicies(
    role: WebIdentityRoleModel,
    session: SandboxSession,
    policies: readonly SimulationPolicy[],
    check: AccessCheck,
    claims: Record<string, string>,
  ): string {
    const contextVariables: Record<string, string> = { ...claims, 'aws:SecureTransport': 'true' };
    if (check.prefix !== undefined) contextVariables['s3:prefix'] = check.prefix;
    return runUnsafeSimulation(
      {
        request: {
          principal: sessionArn(this.model, role, session.sessionName),
          action: check.action,
          resource: { resource: check.resource, accountId: this.model.env.accountId },
          contextVariables,
        },
        identityPolicies: policies.map((policy, i) => ({ name: `session-policy-${i}`, policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
      },
      {},
    );
  }
}

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
