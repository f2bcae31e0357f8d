import type { ProviderSettings } from '../../common/app-config';
import { fail, toSignInError } from '../../lambda/callback/idp-errors';
import { SignInError } from '../../lambda/callback/ports';

const PROVIDER: ProviderSettings = {
  name: 'test',
  family: 'oidc',
  displayName: 'Test',
  clientId: 'test-client',
  clientSecretId: 'client-secret',
  roleArn: 'arn:aws:iam::123456789012:role/test',
};

/** An error shaped like openid-client's: a code and a cause. */
function coded(code: string, cause?: unknown): Error {
  return Object.assign(new Error(`failed with ${code}`, { cause }), { code });
}

describe('fail', () => {
  test('shows a fixed message and prefixes the detail with the provider name', () => {
    const err = fail('token_rejected', PROVIDER, 'ID token azp is not this client');
    expect(err).toBeInstanceOf(SignInError);
    expect(err.kind).toBe('token_rejected');
    expect(err.message).not.toContain('azp');
    expect(err.detail).toBe('test: ID token azp is not this client');
  });
});

describe('toSignInError', () => {
  test('passes a SignInError through unchanged', () => {
    const original = fail('bad_request', PROVIDER, 'x');
    expect(toSignInError(original, 'token', PROVIDER)).toBe(original);
  });

  test.each([
    ['discovery', coded('OAUTH_INVALID_RESPONSE'), 'idp_unavailable'],
    ['callback', coded('OAUTH_INVALID_RESPONSE'), 'bad_request'],
    ['token', new TypeError('fetch failed'), 'idp_unavailable'],
    ['token', coded('OAUTH_TIMEOUT'), 'idp_unavailable'],
    [
      'token',
      coded('OAUTH_RESPONSE_IS_NOT_CONFORM', new Response('', { status: 400 })),
      'token_rejected',
    ],
    [
      'token',
      coded('OAUTH_RESPONSE_IS_NOT_CONFORM', new Response('', { status: 502 })),
      'idp_unavailable',
    ],
    ['token', coded('OAUTH_JWT_CLAIM_COMPARISON_FAILED'), 'token_rejected'],
    ['profile', coded('OAUTH_INVALID_RESPONSE', { cause: { body: {} } }), 'idp_unavailable'],
    [
      'profile',
      coded('OAUTH_INVALID_RESPONSE', { cause: { body: {}, claims: {} } }),
      'token_rejected',
    ],
  ] as const)('%s: %p -> %s', (phase, err, kind) => {
    const mapped = toSignInError(err, phase, PROVIDER);
    expect(mapped.kind).toBe(kind);
    expect(mapped.detail).toMatch(new RegExp(`^test: ${phase}: `));
  });

  test('the detail names codes and claims but copies no token from the causes', () => {
    const err = coded('OAUTH_INVALID_RESPONSE', {
      claim: 'aud',
      body: { access_token: 'secret-access-token' },
      claims: { sub: 'secret-subject' },
    });
    const { detail } = toSignInError(err, 'token', PROVIDER);
    expect(detail).toContain('(OAUTH_INVALID_RESPONSE)');
    expect(detail).toContain('[claim aud]');
    expect(detail).not.toContain('secret-access-token');
    expect(detail).not.toContain('secret-subject');
  });
});
