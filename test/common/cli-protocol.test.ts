import { parseLoopbackPort, PROVIDER_NAME } from '../../common/cli-protocol';
import { GOOGLE_SETTINGS, testAppConfig } from '../support/app-config';

describe('parseLoopbackPort (cli-request-checked, loopback-redirect-only)', () => {
  it.each([
    ['1024', 1024],
    ['8080', 8080],
    ['49152', 49152],
    ['65535', 65535],
  ])('accepts %s', (value, port) => {
    expect(parseLoopbackPort(value)).toBe(port);
  });

  it.each(['1023', '1000', '999', '80', '0', '65536', '99999', '08080', '8080.0', ' 8080', '-1'])(
    'refuses %j: privileged, out of range or not plain digits',
    (value) => {
      expect(parseLoopbackPort(value)).toBeUndefined();
    },
  );

  it('refuses nothing given', () => {
    expect(parseLoopbackPort(null)).toBeUndefined();
    expect(parseLoopbackPort(undefined)).toBeUndefined();
    expect(parseLoopbackPort('')).toBeUndefined();
  });
});

describe('PROVIDER_NAME', () => {
  it.each(['google', 'devidp', 'my-idp2'])('accepts %s', (name) => {
    expect(PROVIDER_NAME.test(name)).toBe(true);
  });

  it.each(['', 'g', 'Google', '-idp', 'idp-', 'a b', '<b>', `a${'b'.repeat(32)}`])(
    'refuses %j',
    (name) => {
      expect(PROVIDER_NAME.test(name)).toBe(false);
    },
  );

  it.each(['Google', '-idp', 'a b', '<b>', `a${'b'.repeat(32)}`])(
    'is the app config rule too: a provider named %j is refused',
    (name) => {
      expect(() => testAppConfig({ providers: [{ ...GOOGLE_SETTINGS, name }] })).toThrow(
        /providers\.0\.name/,
      );
    },
  );
});
