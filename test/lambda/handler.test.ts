import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { appFromEnvironment, handler, toRequest, toResult } from '../../lambda/callback/handler';

function event(overrides: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'ANY /{proxy+}',
    rawPath: '/',
    rawQueryString: '',
    headers: { host: 'files.example.com' },
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'files.example.com',
      domainPrefix: 'files',
      http: {
        method: 'GET',
        path: '/',
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.1',
        userAgent: 'jest',
      },
      requestId: 'req-1',
      routeKey: 'ANY /{proxy+}',
      stage: '$default',
      time: '22/Nov/2026:12:00:00 +0000',
      timeEpoch: 0,
    },
    ...overrides,
  } as APIGatewayProxyEventV2;
}

const APP_CONFIG = JSON.stringify({
  baseUrl: 'https://files.example.com',
  region: 'eu-west-1',
  bucket: 'user-data-bucket',
  durationSeconds: 3600,
  cookieKeySecretId: 'cookie-key',
  sandbox: true,
  providers: [
    {
      name: 'google',
      family: 'google',
      displayName: 'Google',
      clientId: '1-a.apps.googleusercontent.com',
      clientSecretId: 'google-secret',
      issuer: 'https://accounts.google.com',
      roleArn: 'arn:aws:iam::123456789012:role/google-users',
    },
  ],
});

describe('API Gateway v2 adapter', () => {
  test('maps method, raw path, query, lower-case headers, cookies array and request id', () => {
    const req = toRequest(
      event({
        rawPath: '/download',
        rawQueryString: 'name=a%20b.txt',
        headers: { Host: 'files.example.com', Origin: 'https://files.example.com' },
        cookies: ['__Host-wif-session=abc', 'other=1; x=2'],
        requestContext: {
          ...event().requestContext,
          http: { ...event().requestContext.http, method: 'get' },
          requestId: 'r-9',
        },
      }),
    );
    expect(req).toMatchObject({
      method: 'GET',
      path: '/download',
      rawQuery: 'name=a%20b.txt',
      headers: { host: 'files.example.com', origin: 'https://files.example.com' },
      cookies: { '__Host-wif-session': 'abc', other: '1', x: '2' },
      requestId: 'r-9',
      body: '',
    });
  });

  test('decodes base64 bodies (form posts) and falls back to the Cookie header', () => {
    const req = toRequest(
      event({
        body: Buffer.from('csrf=t&name=a.txt').toString('base64'),
        isBase64Encoded: true,
        headers: { cookie: 'a=1; b=2' },
      }),
    );
    expect(req.body).toBe('csrf=t&name=a.txt');
    expect(req.cookies).toEqual({ a: '1', b: '2' });
  });

  test('returns status, headers, Set-Cookie values in cookies[] and the body', () => {
    expect(
      toResult({ status: 302, headers: { location: '/' }, cookies: ['a=1; HttpOnly'], body: '' }),
    ).toEqual({
      statusCode: 302,
      headers: { location: '/' },
      cookies: ['a=1; HttpOnly'],
      body: '',
    });
  });

  test('the handler serves pages from APP_CONFIG, with security headers', async () => {
    process.env.APP_CONFIG = APP_CONFIG;
    process.env.APP_SECRETS = JSON.stringify({ 'cookie-key': 'c'.repeat(48) });
    try {
      const home = await handler(event());
      expect(home.statusCode).toBe(200);
      expect(home.body).toContain('Sign in with Google');
      expect(home.headers?.['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      const health = await handler(event({ rawPath: '/healthz' }));
      expect(health.statusCode).toBe(200);
      const forged = await handler(event({ cookies: ['__Host-wif-session=v1.AAAA.BBBB.CCCC'] }));
      expect(forged.statusCode).toBe(200);
      expect(forged.body).toContain('Your session ended');
    } finally {
      delete process.env.APP_CONFIG;
      delete process.env.APP_SECRETS;
    }
  });

  test("the handler budgets outbound calls by the Lambda context's remaining time", async () => {
    process.env.APP_CONFIG = APP_CONFIG;
    process.env.APP_SECRETS = JSON.stringify({ 'cookie-key': 'c'.repeat(48) });
    const logged = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      // Google's discovery would be the first outbound call; 100 ms left is too little.
      const res = await handler(event({ rawPath: '/login/google' }), {
        getRemainingTimeInMillis: () => 100,
      });
      expect(res.statusCode).toBe(502);
      expect(res.body).toContain('Sign-in is unavailable');
      const entries = logged.mock.calls.map(([line]) => JSON.parse(String(line)));
      expect(entries).toContainEqual(
        expect.objectContaining({
          event: 'sign_in_error',
          kind: 'idp_unavailable',
          detail: expect.stringMatching(/discovery: .*no time left before the request deadline/),
        }),
      );
    } finally {
      logged.mockRestore();
      delete process.env.APP_CONFIG;
      delete process.env.APP_SECRETS;
    }
  });

  test('a missing or invalid APP_CONFIG fails with a readable error naming the field', () => {
    expect(() => appFromEnvironment({})).toThrow(/APP_CONFIG is not set/);
    expect(() => appFromEnvironment({ APP_CONFIG: '{' })).toThrow(/not valid JSON/);
    expect(() =>
      appFromEnvironment({
        APP_CONFIG: JSON.stringify({ ...JSON.parse(APP_CONFIG), baseUrl: 'x' }),
      }),
    ).toThrow(/baseUrl/);
    expect(() =>
      appFromEnvironment({
        APP_CONFIG: JSON.stringify({
          ...JSON.parse(APP_CONFIG),
          sandbox: false,
          baseUrl: 'http://files.example.com',
        }),
      }),
    ).toThrow(/https:\/\/ outside the sandbox/);
  });
});
