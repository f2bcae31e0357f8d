import {
  ACCESS_TOKEN_PROVIDER_IDS,
  BUILT_IN_PROVIDERS,
  GOOGLE_ISSUER_SPELLINGS,
  PROFILE_SUBJECT_FIELDS,
  TokenKind,
  accessTokenFamilyOf,
  builtInByPrincipal,
  callbackPath,
  cognitoIssuer,
  googleIssuerSpellings,
  loginPath,
  oidcProviderFacts,
  providerFacts,
  userPrefix,
} from '../../common/provider-facts';

// The expected values are IAM's documented names, written out here on purpose so a typo
// in the table cannot agree with itself.
/* eslint-disable no-template-curly-in-string */
describe('provider facts', () => {
  it('names Login with Amazon as IAM does: app_id audience, user_id subject, ProviderId', () => {
    expect(BUILT_IN_PROVIDERS.amazon).toMatchObject({
      keyPrefix: 'www.amazon.com',
      audienceKeys: ['www.amazon.com:app_id'],
      subjectKey: 'www.amazon.com:user_id',
      subjectVariable: '${www.amazon.com:user_id}',
      tokenKind: TokenKind.ACCESS_TOKEN,
      providerId: 'www.amazon.com',
    });
  });

  it('names Facebook as IAM does: app_id audience, id subject, ProviderId', () => {
    expect(BUILT_IN_PROVIDERS.facebook).toMatchObject({
      keyPrefix: 'graph.facebook.com',
      audienceKeys: ['graph.facebook.com:app_id'],
      subjectKey: 'graph.facebook.com:id',
      subjectVariable: '${graph.facebook.com:id}',
      tokenKind: TokenKind.ACCESS_TOKEN,
      providerId: 'graph.facebook.com',
    });
  });

  it('checks both of Google audience keys (aud = azp, oaud = aud) and sends no ProviderId', () => {
    const google = BUILT_IN_PROVIDERS.google;
    expect(google.audienceKeys).toEqual(['accounts.google.com:aud', 'accounts.google.com:oaud']);
    expect(google.subjectVariable).toBe('${accounts.google.com:sub}');
    expect(google.tokenKind).toBe(TokenKind.ID_TOKEN);
    expect(google.providerId).toBeUndefined();
  });

  it('keys a generic OIDC issuer on its URL without the scheme', () => {
    const facts = oidcProviderFacts('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc');
    expect(facts).toMatchObject({
      family: 'oidc',
      keyPrefix: 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc',
      audienceKeys: ['cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc:aud'],
      subjectVariable: '${cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc:sub}',
    });
    expect(facts.providerId).toBeUndefined();
    expect(() => providerFacts('oidc')).toThrow(/issuer/);
  });

  it('finds built-in families by principal and by ProviderId, and nothing else', () => {
    expect(builtInByPrincipal('accounts.google.com')?.family).toBe('google');
    expect(builtInByPrincipal('https://accounts.google.com')).toBeUndefined();
    expect(accessTokenFamilyOf('graph.facebook.com')).toBe('facebook');
    expect(accessTokenFamilyOf('accounts.google.com')).toBeUndefined();
  });

  it('builds a Cognito user pool issuer from the pool id, region included', () => {
    expect(cognitoIssuer('eu-west-1_Abc')).toBe(
      'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc',
    );
  });

  it("spells Google's issuer with and without the scheme, and nothing else", () => {
    expect(GOOGLE_ISSUER_SPELLINGS).toEqual(['https://accounts.google.com', 'accounts.google.com']);
    expect(googleIssuerSpellings('http://127.0.0.1:8444')).toEqual([
      'http://127.0.0.1:8444',
      '127.0.0.1:8444',
    ]);
    expect(googleIssuerSpellings('accounts.google.com')).toEqual(['accounts.google.com']);
  });

  it('lists the OAuth 2.0 ProviderIds and profile subject fields STS knows', () => {
    expect(ACCESS_TOKEN_PROVIDER_IDS).toEqual(['www.amazon.com', 'graph.facebook.com']);
    expect(PROFILE_SUBJECT_FIELDS).toEqual(['user_id', 'id']);
  });

  it("spells the app's login and callback routes, and their route patterns", () => {
    expect(loginPath('google')).toBe('/login/google');
    expect(callbackPath('google')).toBe('/oauth2callback/google');
    expect(loginPath(':provider')).toBe('/login/:provider');
    expect(callbackPath('')).toBe('/oauth2callback/');
  });

  it('spells a user prefix users/<namespace>/<subject>/', () => {
    expect(userPrefix('google', '${accounts.google.com:sub}')).toBe(
      'users/google/${accounts.google.com:sub}/',
    );
  });
});
