/**
 * What makes a policy safe to hand to `@cloud-copilot/iam-simulate`, which validates nothing
 * on the path the sandbox uses (`runUnsafeSimulation`, see `policy-model.ts`):
 * - it fails OPEN on an unknown condition operator: such a condition never matches, so a
 *   Deny statement using it silently stops denying (and `validateResourcePolicy` accepts
 *   it). Every policy is therefore checked against `KNOWN_OPERATOR` first;
 * - a resource policy without metadata crashes it (`metadata().name`) as soon as one of
 *   its statements matches: policies are passed as validated policies
 *   (`createValidatedPolicy`) that carry a name.
 */
import {
  createValidatedPolicy,
  type ValidatedPolicy,
  type ValidationError,
} from '@cloud-copilot/iam-policy';
import { isObject, type Json } from '../lib/template/intrinsics';
import { asArray } from '../lib/template/model';

/** A policy checked once and ready for iam-simulate; `metadata.name` names it in results. */
export type SimulationPolicy = ValidatedPolicy<{ name: string }>;

/** Base condition operators iam-simulate implements (plus `Null`, handled on its own). */
const BASE_OPERATORS = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
];

/**
 * Operators this module lets through to iam-simulate, spelled exactly as AWS documents
 * them: an optional set prefix, a base operator, an optional `IfExists`; or bare `Null`.
 */
export const KNOWN_OPERATOR = new RegExp(
  `^(?:(?:ForAnyValue:|ForAllValues:)?(?:${BASE_OPERATORS.join('|')})(?:IfExists)?|Null)$`,
);

/**
 * Condition operators in the policy documents under `value` that are not in
 * `KNOWN_OPERATOR`, each with where it is (`Resources.X...Statement[0]: StringEqualsFoo`).
 * A Condition that is not a plain object (an intrinsic such as `Fn::If`) is reported too.
 */
export function unknownConditionOperators(value: Json, path = ''): string[] {
  const found: string[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => found.push(...unknownConditionOperators(v, `${path}[${i}]`)));
    return found;
  }
  if (!isObject(value)) return found;
  if ('Statement' in value) {
    asArray(value.Statement).forEach((statement, i) => {
      const where = `${path}.Statement[${i}]`;
      if (!isObject(statement) || statement.Condition === undefined) return;
      if (!isObject(statement.Condition)) {
        found.push(`${where}: Condition is not an object (${JSON.stringify(statement.Condition)})`);
        return;
      }
      for (const operator of Object.keys(statement.Condition)) {
        if (!KNOWN_OPERATOR.test(operator)) found.push(`${where}: ${operator}`);
      }
    });
  }
  for (const [key, child] of Object.entries(value)) {
    if (key !== 'Statement') found.push(...unknownConditionOperators(child, `${path}.${key}`));
  }
  return found;
}

/** Throws when any policy under `value` uses a condition operator iam-simulate would ignore. */
export function assertKnownConditionOperators(value: Json, where = 'template'): void {
  const unknown = unknownConditionOperators(value);
  if (unknown.length > 0) {
    // iam-simulate treats an unknown operator as "condition does not match": an Allow
    // would fail closed, but a Deny would fail OPEN. Refuse rather than guess.
    throw new Error(
      `${where} uses condition operators iam-simulate does not implement (it would ignore them, failing open for Deny statements):\n` +
        unknown.map((u) => `  - ${u}`).join('\n'),
    );
  }
}

/** Validates `document` with `validate`; throws with every error and the document. */
export function validated(
  document: unknown,
  validate: (policy: unknown) => ValidationError[],
  name: string,
): SimulationPolicy {
  const policy = createValidatedPolicy(document, validate, { name });
  if (policy.errors.length > 0) {
    throw new Error(
      `policy ${name} is invalid:\n` +
        policy.errors.map((e) => `  - ${e.path}: ${e.message}`).join('\n') +
        `\n${JSON.stringify(document, null, 2)}`,
    );
  }
  return policy;
}
