/**
 * IAM policy variables, built in one place by concatenation.
 *
 * Inside a TypeScript template literal `${...}` would be interpolated by JavaScript and
 * the policy would silently lose its per-user scoping (one-prefix-constant, prefix-on-immutable-subject); lint refuses
 * `${` in ordinary strings everywhere (`no-template-curly-in-string`), so a variable
 * written by hand elsewhere stands out.
 */

/**
 * The subject variable of a generic OIDC provider, keyed by its issuer without the
 * scheme (`cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc`).
 */
export function oidcSubjectVariable(issuerKey: string): string {
  return policyVariable(issuerKey, 'sub');
}

/** The policy variable of condition key `<prefix>:<claim>`, e.g. `${www.amazon.com:user_id}`. */
export function policyVariable(prefix: string, claim: string): string {
  return '${' + prefix + ':' + claim + '}';
}

/** Matches any IAM policy variable, for example `${aws:username}` or `${accounts.google.com:sub}`. */
export const POLICY_VARIABLE_PATTERN = /\$\{([^}]+)\}/g;

/**
 * `StringNotLike` patterns that match a subject IAM must refuse: one containing `/` or `\`
 * (it would nest into another user's prefix or be read as a separator), `*`, `?` or `$`
 * (wildcards and variables when the prefix is evaluated). In IAM's `*Like` operators `*`
 * and `?` are wildcards, so the literal characters are spelled with IAM's special
 * variables `${*}`, `${?}` and `${$}`.
 */
export const UNSAFE_SUBJECT_PATTERNS: readonly string[] = [
  '*/*',
  '*\\*',
  '*' + literal('*') + '*',
  '*' + literal('?') + '*',
  '*' + literal('$') + '*',
];

/** IAM's spelling of a literal `*`, `?` or `$` inside a policy: `${*}`, `${?}`, `${$}`. */
function literal(character: '*' | '?' | '$'): string {
  return '${' + character + '}';
}
