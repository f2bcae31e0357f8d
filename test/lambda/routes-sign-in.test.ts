import { safeReturnTo, UsedStates } from '../../lambda/callback/routes-sign-in';

const NOW = Date.UTC(2026, 10, 22, 12);

describe('UsedStates', () => {
  test('a state is claimed once until its login cookie expires', () => {
    const clock = { t: NOW, now: () => clock.t };
    const used = new UsedStates(clock);
    expect(used.claim('state-1', NOW + 600_000)).toBe(true);
    expect(used.claim('state-1', NOW + 600_000)).toBe(false);
    clock.t = NOW + 600_000;
    expect(used.claim('state-1', NOW + 1_200_000)).toBe(true);
  });

  test('past the maximum the oldest state is forgotten', () => {
    const used = new UsedStates({ now: () => NOW }, 2);
    for (const s of ['a', 'b', 'c']) expect(used.claim(s, NOW + 600_000)).toBe(true);
    // Pruning runs before each claim: 3 remembered > 2, so 'a' went first.
    expect(used.claim('a', NOW + 600_000)).toBe(true);
    expect(used.claim('c', NOW + 600_000)).toBe(false);
  });
});

describe('safeReturnTo', () => {
  test.each([
    ['/', '/'],
    ['/?uploaded=a', '/?uploaded=a'],
    ['/a/b?c=d', '/a/b?c=d'],
    ['/a#frag', '/a'],
  ])('keeps same-origin path %j as %j', (value, expected) => {
    expect(safeReturnTo(value)).toBe(expected);
  });

  test.each([
    null,
    '',
    'https://evil.example/',
    '//evil.example',
    '/\\evil.example',
    '/%2F/evil.example',
    '/%5Cevil.example',
    '/a\nb',
    '/%E0%A4%A',
    '/' + 'a'.repeat(512),
  ])('sends %j to /', (value) => {
    expect(safeReturnTo(value)).toBe('/');
  });

  test.each(['/.//evil.example', '/%2e//evil.example', '/a/..//evil.example', '/./%2e//evil'])(
    'return-to-same-origin: %j normalises to //host, so it goes to /',
    (value) => {
      expect(safeReturnTo(value)).toBe('/');
    },
  );

  test.each(['/../%2F%2Fevil.example', '/./%2F%2Fevil.example', '/a/../%2f/evil.example'])(
    'return-to-same-origin: %j normalises to an encoded //host, so it goes to /',
    (value) => {
      expect(safeReturnTo(value)).toBe('/');
    },
  );

  test('keeps a path whose dot segments normalise to a same-origin path', () => {
    expect(safeReturnTo('/a/../b/./c')).toBe('/b/c');
  });
});
