import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { serialize } from 'cookie';
import fc from 'fast-check';
import { CookieSealer } from '../../lambda/callback/cookies';
import { toRequest } from '../../lambda/callback/handler';
import { parseCookies } from '../../lambda/callback/http';
import { nasty, runs } from '../support/fuzz';

/**
 * Property-based fuzz of what turns raw request bytes into the app's input: the API Gateway
 * adapter, the Cookie parser and the sealed cookies (bad-cookie-signed-out). Garbage must
 * come out as "absent", never as an exception (that would be a 500) and never as a value.
 */

const KEY = 'k'.repeat(40);
const OTHER_KEY = 'o'.repeat(40);
const sealer = CookieSealer.fromSecret(KEY);

/** Anything a header, cookie or body could carry, short or long, well-formed or not. */
const text = fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 64 }));

describe('toRequest (API Gateway v2 adapter)', () => {
  /** An event as API Gateway could send it: every optional field may be missing. */
  const event = fc.record(
    {
      rawPath: text,
      rawQueryString: text,
      headers: fc.dictionary(
        fc.oneof(text, fc.constantFrom('Cookie', 'cookie', 'COOKIE', 'Origin', 'Content-Type')),
        fc.option(text, { nil: undefined }),
        { maxKeys: 6 },
      ),
      cookies: fc.array(text, { maxLength: 5 }),
      body: text,
      isBase64Encoded: fc.boolean(),
      method: fc.oneof(fc.constantFrom('GET', 'post', 'Head', 'DELETE'), text),
      requestId: text,
    },
    { requiredKeys: ['rawPath', 'method', 'requestId'] },
  );

  test('never throws; lower-case headers, upper-case method, decoded body, cookies parsed', () => {
    fc.assert(
      fc.property(event, (e) => {
        const { method, requestId, ...rest } = e;
        const req = toRequest({
          ...rest,
          requestContext: { http: { method }, requestId },
        } as unknown as APIGatewayProxyEventV2);
        expect(req.method).toBe(method.toUpperCase());
        expect(req.path).toBe(e.rawPath);
        expect(req.rawQuery).toBe(e.rawQueryString ?? '');
        for (const [k, v] of Object.entries(req.headers)) {
          expect(k).toBe(k.toLowerCase());
          expect(typeof v).toBe('string');
        }
        const body = !e.body
          ? ''
          : e.isBase64Encoded
            ? Buffer.from(e.body, 'base64').toString('utf8')
            : e.body;
        expect(req.body).toBe(body);
        // API Gateway's cookies array wins; the Cookie header is the fallback.
        const cookieSource = e.cookies ?? (req.headers.cookie ? [req.headers.cookie] : []);
        expect(req.cookies).toEqual(parseCookies(cookieSource));
      }),
      runs(1000),
    );
  });

  test('a base64 body round-trips any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (body) => {
        const req = toRequest({
          rawPath: '/',
          body: Buffer.from(body, 'utf8').toString('base64'),
          isBase64Encoded: true,
          requestContext: { http: { method: 'POST' }, requestId: 'r' },
        } as unknown as APIGatewayProxyEventV2);
        expect(req.body).toBe(body);
      }),
      runs(300),
    );
  });
});

describe('parseCookies', () => {
  test('cookies named like Object.prototype members are kept (the first fuzz finding)', () => {
    const cookies = parseCookies(['constructor=1; __proto__=2', 'toString=3; constructor=4']);
    expect(Object.entries(cookies)).toEqual([
      ['constructor', '1'],
      ['__proto__', '2'],
      ['toString', '3'],
    ]);
  });

  test('never throws on any headers; every value is a string', () => {
    fc.assert(
      fc.property(fc.option(fc.array(text, { maxLength: 4 }), { nil: undefined }), (headers) => {
        const cookies = parseCookies(headers);
        for (const value of Object.values(cookies)) expect(typeof value).toBe('string');
      }),
      runs(1000),
    );
  });

  /** Any name the `cookie` package may serialize, prototype names included. */
  const cookieName = fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[\x21-\x3a\x3c\x3e-\x7e]{1,12}$/) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '__Host-wif-session',
        'constructor',
        '__proto__',
        'toString',
        'hasOwnProperty',
        'valueOf',
      ),
    },
  );

  test('round-trips serialized cookies in one or several headers; the first value of a name wins', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(cookieName, fc.string({ unit: 'binary', maxLength: 30 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 1, max: 3 }),
        (pairs, headerCount) => {
          const serialized = pairs.map(([n, v]) => serialize(n, v));
          const headers: string[] = [];
          serialized.forEach((c, i) => {
            const h = i % headerCount;
            headers[h] = headers[h] === undefined ? c : `${headers[h]}; ${c}`;
          });
          const expected = new Map<string, string>();
          // Header by header, then left to right: the order a reader meets them.
          for (let h = 0; h < headerCount; h++)
            serialized.forEach((_, i) => {
              const [n, v] = pairs[i];
              if (i % headerCount === h && !expected.has(n)) expected.set(n, v);
            });
          const cookies = parseCookies(headers.filter((h) => h !== undefined));
          expect(new Map(Object.entries(cookies))).toEqual(expected);
        },
      ),
      runs(1000),
    );
  });
});

describe('CookieSealer', () => {
  const purpose = fc.constantFrom('session', 'login');
  const payload = fc.jsonValue({ maxDepth: 3 });
  /** What JSON keeps of a value (-0 becomes 0, and so on). */
  const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

  test('open never throws and finds nothing in arbitrary text', () => {
    fc.assert(
      fc.property(purpose, fc.option(text, { nil: undefined }), (p, value) => {
        expect(sealer.open(p, value)).toBeUndefined();
      }),
      runs(1000),
    );
  });

  test('well-shaped forgeries under the real key id are refused (the GCM tag is checked)', () => {
    const id = sealer.seal('session', 1).split('.')[1];
    fc.assert(
      fc.property(
        purpose,
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ minLength: 17, maxLength: 300 }),
        (p, iv, body) => {
          const forged = `v1.${id}.${Buffer.from(iv).toString('base64url')}.${Buffer.from(body).toString('base64url')}`;
          expect(sealer.open(p, forged)).toBeUndefined();
        },
      ),
      runs(500),
    );
  });

  test('round-trips any JSON payload for its own purpose only, and never under another key', () => {
    const other = CookieSealer.fromSecret(OTHER_KEY);
    fc.assert(
      fc.property(purpose, payload, (p, value) => {
        const sealed = sealer.seal(p, value);
        expect(sealer.open(p, sealed)).toEqual(viaJson(value));
        expect(sealer.open(p === 'login' ? 'session' : 'login', sealed)).toBeUndefined();
        expect(other.open(p, sealed)).toBeUndefined();
      }),
      runs(300),
    );
  });

  test('a rotated-in key still opens cookies sealed with the old one', () => {
    const rotated = CookieSealer.fromSecret(`${OTHER_KEY}\n${KEY}`);
    fc.assert(
      fc.property(purpose, payload, (p, value) => {
        expect(rotated.open(p, sealer.seal(p, value))).toEqual(viaJson(value));
        expect(sealer.open(p, rotated.seal(p, value))).toBeUndefined();
      }),
      runs(200),
    );
  });

  test('every truncation of a real cookie is refused; a suffix yields the same payload or nothing', () => {
    fc.assert(
      fc.property(
        purpose,
        payload,
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 8 }),
        (p, value, cut, suffix) => {
          const sealed = sealer.seal(p, value);
          expect(sealer.open(p, sealed.slice(0, cut % sealed.length))).toBeUndefined();
          // The base64url decoder skips characters outside its alphabet and a dangling last
          // one; then the bytes, and so the authentic payload, are unchanged. Any other
          // suffix changes the bytes and must fail the tag check.
          const body = sealed.split('.')[3];
          const sameBytes = Buffer.from(body + suffix, 'base64url').equals(
            Buffer.from(body, 'base64url'),
          );
          const opened = sealer.open(p, sealed + suffix);
          if (sameBytes && !suffix.includes('.')) expect(opened).toEqual(viaJson(value));
          else expect(opened).toBeUndefined();
        },
      ),
      runs(500),
    );
  });

  test('any single flipped bit of the iv, ciphertext or tag, or a changed version or key id, is refused', () => {
    fc.assert(
      fc.property(purpose, payload, fc.nat(), fc.nat({ max: 7 }), (p, value, at, bit) => {
        const [version, id, ivText, bodyText] = sealer.seal(p, value).split('.');
        // Flip decoded bytes, not base64 characters: the last character carries padding bits.
        const bytes = Buffer.concat([
          Buffer.from(ivText, 'base64url'),
          Buffer.from(bodyText, 'base64url'),
        ]);
        bytes[at % bytes.length] ^= 1 << bit;
        const iv = bytes.subarray(0, 12).toString('base64url');
        const body = bytes.subarray(12).toString('base64url');
        expect(sealer.open(p, [version, id, iv, body].join('.'))).toBeUndefined();
        const idChars = [...id];
        idChars[at % id.length] = idChars[at % id.length] === 'A' ? 'B' : 'A';
        expect(sealer.open(p, ['v1', idChars.join(''), ivText, bodyText].join('.'))).toBe(
          undefined,
        );
        expect(sealer.open(p, ['v2', id, ivText, bodyText].join('.'))).toBeUndefined();
      }),
      runs(500),
    );
  });
});
