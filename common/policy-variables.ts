/* eslint-disable no-template-curly-in-string */
/**
 * IAM policy variables and condition keys of the built-in web identity providers.
 *
 * Policy variables are written here, once, as plain single-quoted strings. Inside a
 * TypeScript template literal `${...}` would be interpolated by JavaScript and the
 * policy would silently lose its per-user scoping (catalog 39, 47).
 */

/** Login with Amazon: the stable user id (`amzn1.account.<...>`). */
export const AMAZON_SUBJECT = '${www.amazon.com:user_id}';
/** Facebook: the app-scoped user id. */
export const FACEBOOK_SUBJECT = '${graph.facebook.com:id}';
/** Google: the `sub` claim of the ID token. */
export const GOOGLE_SUBJECT = '${accounts.google.com:sub}';

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
