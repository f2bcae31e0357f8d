import { wildcardMatches } from '../../common/wildcard';

describe('wildcardMatches', () => {
  it('matches any run of characters for *, including none', () => {
    expect(wildcardMatches('sts:AssumeRoleWith*', 'sts:AssumeRoleWithWebIdentity')).toBe(true);
    expect(wildcardMatches('sts:*', 'sts:')).toBe(true);
    expect(wildcardMatches('https://*.example.com', 'https://app.example.com')).toBe(true);
  });

  it('matches the whole value, not a part of it', () => {
    expect(wildcardMatches('sts:Get*', 'xsts:GetCallerIdentity')).toBe(false);
    expect(wildcardMatches('https://*.example.com', 'https://a.example.com.evil')).toBe(false);
  });

  it('treats regular-expression characters and ? literally', () => {
    expect(wildcardMatches('a.b', 'axb')).toBe(false);
    expect(wildcardMatches('a?c', 'abc')).toBe(false);
    expect(wildcardMatches('a?c', 'a?c')).toBe(true);
    expect(wildcardMatches('(x)+[y]', '(x)+[y]')).toBe(true);
  });

  it('compares case-sensitively unless asked otherwise', () => {
    expect(wildcardMatches('STS:assume*', 'sts:AssumeRole')).toBe(false);
    expect(wildcardMatches('STS:assume*', 'sts:AssumeRole', { ignoreCase: true })).toBe(true);
  });
});
