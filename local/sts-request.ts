import { validateSessionPolicy } from '@cloud-copilot/iam-policy';
import { isObject } from '../lib/template/intrinsics';
import { MAX_MAX_SESSION_SECONDS, MIN_SESSION_SECONDS } from '../common/app-config';
import { unknownConditionOperators } from './policy-validation';
import { StsError } from './sts-wire';

/**
 * The parameters of an `AssumeRoleWithWebIdentity` request, parsed and checked as the STS
 * API model constrains them (lengths, patterns, `DurationSeconds`, `PolicyArns.member.N.arn`)
 * and the inline session policy parsed and validated like IAM would, before the local STS
 * looks at the token or the role. Every problem is collected into one `ValidationError`
 * worded like AWS's.
 */

/** STS's default `DurationSeconds`; its limits are those the role construct checks at synth. */
const DEFAULT_DURATION_SECONDS = 3600;
const MIN_DURATION_SECONDS = MIN_SESSION_SECONDS;
const MAX_DURATION_SECONDS = MAX_MAX_SESSION_SECONDS;
const MAX_POLICY_ARNS = 10;

/** A validated `AssumeRoleWithWebIdentity` request. */
export interface AssumeRequest {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly token: string;
  readonly providerId?: string;
  readonly durationSeconds: number;
  readonly policy?: { readonly document: unknown; readonly packedLength: number };
  readonly policyArns: readonly string[];
}

interface Constraint {
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: RegExp;
  readonly patternText?: string;
  /** Leave the value out of the message (the token). */
  readonly sensitive?: boolean;
}

const POLICY_TEXT = /^[\u0009\u000A\u000D\u0020-\u00FF]+$/;
const ARN_TEXT =
  /^[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u;
const ROLE_SESSION_NAME = /^[\w+=,.@-]*$/;
const ROLE_ARN = /^arn:[\w-]+:iam::\d{12}:role\/(?:[\u0021-\u007E]*\/)?[\w+=,.@-]{1,64}$/;
const MANAGED_POLICY_ARN =
  /^arn:[\w-]+:iam::(?:\d{12}|aws):policy\/(?:[\u0021-\u007E]*\/)?[\w+=,.@-]{1,128}$/;

/**
 * Checks the parameters as the STS API model constrains them, collecting every problem
 * into one `ValidationError` worded like AWS's ("2 validation errors detected: ...").
 */
export function validateAssumeRequest(params: URLSearchParams, partition: string): AssumeRequest {
  const problems: string[] = [];
  const at = (name: string, value: string | undefined, constraint: string, sensitive = false) =>
    `Value ${value === undefined ? 'null ' : sensitive ? '' : `'${value}' `}at '${name}' failed to satisfy constraint: ${constraint}`;
  const text = (
    name: string,
    member: string,
    required: boolean,
    c: Constraint,
  ): string | undefined => {
    const value = params.get(name) ?? undefined;
    if (value === undefined) {
      if (required) problems.push(at(member, undefined, 'Member must not be null'));
      return undefined;
    }
    const before = problems.length;
    if (c.min !== undefined && value.length < c.min) {
      problems.push(
        at(member, value, `Member must have length greater than or equal to ${c.min}`, c.sensitive),
      );
    }
    if (c.max !== undefined && value.length > c.max) {
      problems.push(
        at(member, value, `Member must have length less than or equal to ${c.max}`, c.sensitive),
      );
    }
    if (c.pattern && !c.pattern.test(value)) {
      problems.push(
        at(
          member,
          value,
          `Member must satisfy regular expression pattern: ${c.patternText}`,
          c.sensitive,
        ),
      );
    }
    return problems.length === before ? value : undefined;
  };

  const roleArn = text('RoleArn', 'roleArn', true, {
    min: 20,
    max: 2048,
    pattern: ARN_TEXT,
    patternText:
      '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+',
  });
  const roleSessionName = text('RoleSessionName', 'roleSessionName', true, {
    min: 2,
    max: 64,
    pattern: ROLE_SESSION_NAME,
    patternText: '[\\w+=,.@-]*',
  });
  const token = text('WebIdentityToken', 'webIdentityToken', true, {
    min: 4,
    max: 20000,
    sensitive: true,
  });
  const providerId = text('ProviderId', 'providerId', false, { min: 4, max: 2048 });
  const policyText = text('Policy', 'policy', false, {
    min: 1,
    max: 2048,
    pattern: POLICY_TEXT,
    patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
  });

  let durationSeconds = DEFAULT_DURATION_SECONDS;
  const duration = params.get('DurationSeconds');
  if (duration !== null) {
    if (!/^-?\d{1,10}$/.test(duration)) {
      problems.push(at('durationSeconds', duration, 'Member must be an integer'));
    } else if (Number(duration) < MIN_DURATION_SECONDS) {
      problems.push(
        at(
          'durationSeconds',
          duration,
          `Member must have value greater than or equal to ${MIN_DURATION_SECONDS}`,
        ),
      );
    } else if (Number(duration) > MAX_DURATION_SECONDS) {
      problems.push(
        at(
          'durationSeconds',
          duration,
          `Member must have value less than or equal to ${MAX_DURATION_SECONDS}`,
        ),
      );
    } else {
      durationSeconds = Number(duration);
    }
  }

  // `PolicyArns.member.N.arn`, in N order. Any other spelling under `PolicyArns.` is refused
  // rather than ignored: a session policy silently dropped would widen the session.
  const members: [number, string][] = [];
  for (const [key, value] of params) {
    if (!key.startsWith('PolicyArns.')) continue;
    const match = /^PolicyArns\.member\.([1-9]\d{0,3})\.arn$/.exec(key);
    if (!match) {
      problems.push(
        `Parameter ${key} is not recognized; session policy ARNs go in PolicyArns.member.N.arn`,
      );
      continue;
    }
    members.push([Number(match[1]), value]);
  }
  members.sort((a, b) => a[0] - b[0]);
  if (members.length > MAX_POLICY_ARNS) {
    problems.push(
      at(
        'policyArns',
        `[${members.map((m) => m[1]).join(', ')}]`,
        `Member must have length less than or equal to ${MAX_POLICY_ARNS}`,
      ),
    );
  }
  const policyArns: string[] = [];
  for (const [n, arn] of members) {
    const member = `policyArns.${n}.member.arn`;
    if (arn.length < 20) {
      problems.push(at(member, arn, 'Member must have length greater than or equal to 20'));
    } else if (arn.length > 2048) {
      problems.push(at(member, arn, 'Member must have length less than or equal to 2048'));
    } else if (!MANAGED_POLICY_ARN.test(arn) || !arn.startsWith(`arn:${partition}:`)) {
      problems.push(
        at(
          member,
          arn,
          `Member must be an IAM managed policy ARN (arn:${partition}:iam::<account>:policy/<name>)`,
        ),
      );
    } else {
      policyArns.push(arn);
    }
  }

  if (problems.length > 0) {
    throw new StsError(
      'ValidationError',
      400,
      `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    );
  }
  // Every required value passed its checks, or `problems` would not be empty.
  if (!ROLE_ARN.test(roleArn!))
    throw new StsError('ValidationError', 400, 'Request ARN is invalid');

  return {
    roleArn: roleArn!,
    roleSessionName: roleSessionName!,
    token: token!,
    providerId,
    durationSeconds,
    policy: policyText === undefined ? undefined : parseSessionPolicy(policyText),
    policyArns,
  };
}

/** Parses and validates the inline session policy like IAM would, before anything else. */
function parseSessionPolicy(text: string): { document: unknown; packedLength: number } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new StsError('MalformedPolicyDocument', 400, 'This policy contains invalid Json');
  }
  // validateSessionPolicy throws on `null`; every non-object is a syntax error anyway.
  const errors = isObject(document)
    ? validateSessionPolicy(document).map((e) => `${e.path || 'policy'}: ${e.message}`)
    : ['the policy must be a JSON object'];
  // The local S3 evaluates session policies with iam-simulate, which ignores unknown
  // condition operators (a Deny would stop denying): IAM refuses them, so do we.
  errors.push(...unknownConditionOperators(document).map((u) => `unknown condition operator ${u}`));
  if (errors.length > 0) {
    throw new StsError(
      'MalformedPolicyDocument',
      400,
      `Syntax errors in policy. (${errors.join('; ')})`,
    );
  }
  // STS counts the policy without insignificant whitespace.
  return { document, packedLength: JSON.stringify(document).length };
}
