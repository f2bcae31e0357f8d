/**
 * `*` wildcard matching as IAM action patterns (`sts:AssumeRoleWith*`) and S3 CORS rules
 * (`https://*.example.com`) use it: `*` matches any run of characters, every other
 * character only itself.
 */
export function wildcardMatches(
  pattern: string,
  value: string,
  options: { readonly ignoreCase?: boolean } = {},
): boolean {
  const regex = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
    options.ignoreCase ? 'i' : '',
  );
  return regex.test(value);
}
