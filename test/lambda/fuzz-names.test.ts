import fc from 'fast-check';
import { userPrefix } from '../../common/provider-facts';
import {
  checkFolder,
  checkObjectName,
  checkStoredName,
  isSafeSubject,
  NO_BROWSER_DOWNLOAD,
} from '../../lambda/callback/names';
import { attachmentDisposition } from '../../lambda/callback/storage';
import { safeReturnTo } from '../../lambda/callback/routes-sign-in';
import {
  contentTypeOf,
  MAX_OBJECT_BYTES,
  MAX_PLANNED_PARTS,
  MULTIPART_THRESHOLD_BYTES,
  parseParts,
  parseSize,
  planParts,
  uploadIdOf,
} from '../../lambda/callback/uploads';
import { nasty, runs, TOKENS } from '../support/fuzz';

/**
 * Property-based fuzz of the checks that stand between user input and an S3 key, a
 * redirect or an S3 request: object names (object-name-validated), subjects
 * (subject-safe-for-prefix), `return_to` (return-to-same-origin) and upload planning.
 * Each check must never throw, and whatever it accepts must satisfy the rule it enforces.
 */

const MiB = 1024 * 1024;
/** C0 controls (NUL included), DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Anything at all, strings most often. */
const input = fc.oneof(
  { weight: 6, arbitrary: nasty },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 200, maxLength: 1100 }) },
  { weight: 1, arbitrary: fc.anything() },
);

/** Subjects as providers issue them: account ids, UUIDs, `auth0|...`. */
const plainSubject = fc.stringMatching(/^[A-Za-z0-9._|:@-]{1,80}$/);

describe('checkObjectName (object-name-validated)', () => {
  const prefix = fc
    .tuple(fc.constantFrom('google', 'amazon', 'cognito'), plainSubject)
    .map(([p, s]) => userPrefix(p, s));

  test('never throws; an accepted name cannot leave the prefix or break the key', () => {
    fc.assert(
      fc.property(input, prefix, (raw, pre) => {
        const check = checkObjectName(raw, pre);
        if (!check.ok) {
          // Reasons are fixed texts: the input is never echoed.
          expect(check.reason).not.toMatch(/[<>"&]/);
          return;
        }
        const { name } = check;
        expect(typeof raw).toBe('string');
        expect(name).toBe((raw as string).normalize('NFC'));
        expect(name).not.toMatch(/[/\\*?]/);
        expect(name).not.toMatch(CONTROL);
        expect(name).not.toMatch(/%[0-9a-f]{2}/i);
        expect(['', '.', '..']).not.toContain(name);
        expect(name.trim()).toBe(name);
        expect(Buffer.byteLength(pre + name, 'utf8')).toBeLessThanOrEqual(1024);
        // The key is the prefix plus exactly one more segment.
        expect((pre + name).split('/')).toEqual([...pre.split('/').slice(0, -1), name]);
      }),
      runs(2000),
    );
  });

  test('ordinary names are accepted unchanged (the check is not a blanket refusal)', () => {
    const ordinary = fc
      .stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,100}[A-Za-z0-9)]$/)
      .filter((n) => n !== '..');
    fc.assert(
      fc.property(ordinary, prefix, (name, pre) => {
        expect(checkObjectName(name, pre)).toEqual({ ok: true, name });
      }),
      runs(300),
    );
  });
});

/** A user prefix as the app builds them. */
const ownPrefix = fc
  .tuple(fc.constantFrom('google', 'amazon', 'facebook', 'devidp'), plainSubject)
  .map(([p, s]) => userPrefix(p, s));
/** Path-like text: hostile segments joined by `/`, sometimes ending in one. */
const pathLike = fc
  .tuple(fc.array(nasty, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([segments, slash]) => segments.join('/') + (slash ? '/' : ''));
const nameInput = fc.oneof(
  { weight: 3, arbitrary: input },
  { weight: 3, arbitrary: pathLike },
  { weight: 1, arbitrary: fc.constantFrom('..', '.', 'a/..', './a', 'a//b', '/a', 'a/', '\u0007') },
);
const dotSegment = (text: string) => text.split('/').some((s) => s === '.' || s === '..');
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('checkStoredName (listed-names-round-trip)', () => {
  test('never throws; an accepted name is taken byte-exact, and own prefix + name is a key inside the own prefix', () => {
    fc.assert(
      fc.property(nameInput, ownPrefix, fc.constantFrom('download', 'delete'), (raw, pre, use) => {
        const check = checkStoredName(raw, pre, use as 'download' | 'delete');
        if (!check.ok) {
          expect(check.reason).not.toMatch(/[<>&]/);
          return;
        }
        expect(check.name).toBe(raw);
        const key = pre + check.name;
        expect(key.startsWith(pre)).toBe(true);
        expect(check.name.length).toBeGreaterThan(0);
        expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(1024);
        expect(check.name).not.toMatch(LONE_SURROGATE);
        // Only a browser download must not carry a dot segment (it would be resolved).
        if (use === 'download') expect(dotSegment(check.name)).toBe(false);
        // Whatever may be downloaded may be deleted.
        if (use === 'download') expect(checkStoredName(raw, pre, 'delete').ok).toBe(true);
      }),
      runs(2000),
    );
  });

  test('examples: control characters, "\\", "?", "%41", empty segments pass byte-exact; dot segments are delete-only', () => {
    const pre = userPrefix('google', '1001');
    for (const name of [
      'bell\u0007.txt',
      'cr\r\nlf',
      'nul\u0000',
      'a\\b',
      'what?',
      '%41',
      'a//b',
      '/lead',
      ' x ',
    ]) {
      expect(checkStoredName(name, pre, 'download')).toEqual({ ok: true, name });
      expect(checkStoredName(name, pre, 'delete')).toEqual({ ok: true, name });
    }
    for (const name of ['..', '.', 'a/..', './a', 'a/../b', '../2002/x']) {
      expect(checkStoredName(name, pre, 'download')).toEqual({
        ok: false,
        reason: NO_BROWSER_DOWNLOAD,
      });
      expect(checkStoredName(name, pre, 'delete')).toEqual({ ok: true, name });
    }
    for (const raw of [
      '',
      undefined,
      null,
      7,
      ['a'],
      'x'.repeat(1024 - pre.length + 1),
      'bad\ud800',
    ]) {
      expect(checkStoredName(raw, pre, 'delete').ok).toBe(false);
      expect(checkStoredName(raw, pre, 'download').ok).toBe(false);
    }
    expect(checkStoredName('x'.repeat(1024 - pre.length), pre, 'delete').ok).toBe(true);
  });
});

describe('checkFolder (folder-within-prefix)', () => {
  test('never throws; an accepted folder is empty or ends in "/", byte-exact, with no dot segment or control character', () => {
    fc.assert(
      fc.property(nameInput, ownPrefix, (raw, pre) => {
        const check = checkFolder(raw, pre);
        if (!check.ok) {
          expect(check.reason).not.toMatch(/[<>&]/);
          return;
        }
        const key = pre + check.name;
        expect(key.startsWith(pre)).toBe(true);
        expect(Buffer.byteLength(key, 'utf8')).toBeLessThanOrEqual(1024);
        expect(dotSegment(check.name)).toBe(false);
        expect(check.name).not.toMatch(CONTROL);
        expect(check.name).not.toMatch(LONE_SURROGATE);
        if (check.name === '') expect([null, undefined, '']).toContain(raw);
        else expect([check.name, check.name.endsWith('/')]).toEqual([raw, true]);
      }),
      runs(2000),
    );
  });

  test('examples', () => {
    const pre = userPrefix('google', '1001');
    for (const raw of [undefined, null, ''])
      expect(checkFolder(raw, pre)).toEqual({ ok: true, name: '' });
    for (const name of ['docs/', 'docs/2025/', 'a//', '/', 'what?/', '%2e%2e/', 'a\\b/'])
      expect(checkFolder(name, pre)).toEqual({ ok: true, name });
    for (const raw of [
      'docs',
      '../',
      './',
      'a/../',
      'a/./b/',
      'bell\u0007/',
      'nul\u0000/',
      'bad\ud800/',
      7,
      `${'x'.repeat(1024)}/`,
    ])
      expect(checkFolder(raw, pre).ok).toBe(false);
  });
});

describe('attachmentDisposition (listed-names-round-trip: any name downloads under a safe header)', () => {
  /** RFC 6266 with RFC 5987: a quoted ASCII fallback, then the exact name as UTF-8. */
  const HEADER =
    /^attachment; filename="([\x20\x21\x23-\x5b\x5d-\x7e]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]*)$/;

  test('never throws; the header is well-formed, plain ASCII, and filename* decodes to the name', () => {
    fc.assert(
      fc.property(fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 40 })), (name) => {
        const header = attachmentDisposition(name);
        const m = HEADER.exec(header);
        expect(m).not.toBeNull();
        const [, fallback, encoded] = m!;
        expect(fallback).not.toMatch(/[%/\\"]/);
        const wellFormed = (name || 'download').replace(new RegExp(LONE_SURROGATE, 'g'), '\ufffd');
        expect(decodeURIComponent(encoded)).toBe(wellFormed);
        // The fallback keeps the name's length in UTF-16 units, each unsafe one as `_`.
        expect(fallback.length).toBe(wellFormed.length);
      }),
      runs(2000),
    );
  });
});

describe('isSafeSubject (subject-safe-for-prefix)', () => {
  test('never throws; an accepted subject is one safe prefix segment', () => {
    fc.assert(
      fc.property(input, (subject) => {
        if (!isSafeSubject(subject)) return;
        expect(subject.length).toBeGreaterThan(0);
        expect(Buffer.byteLength(subject, 'utf8')).toBeLessThanOrEqual(255);
        expect(subject).not.toMatch(/[/\\*?$]/);
        expect(subject).not.toMatch(CONTROL);
        expect(userPrefix('google', subject).split('/')).toEqual(['users', 'google', subject, '']);
      }),
      runs(2000),
    );
  });

  test('subjects as providers issue them are accepted', () => {
    fc.assert(
      fc.property(plainSubject, (subject) => expect(isSafeSubject(subject)).toBe(true)),
      runs(300),
    );
  });
});

describe('safeReturnTo (return-to-same-origin)', () => {
  const DUMMY = 'https://app.invalid';
  /** Paths built from separators, dot segments, escapes and hosts; some not starting with `/`. */
  const path = fc.oneof(
    { weight: 4, arbitrary: nasty.map((s) => `/${s}`) },
    {
      weight: 4,
      arbitrary: fc
        .array(fc.constantFrom('/', '\\', '.', '..', '%2e', '%2E', '%2f', '%5c', ...TOKENS), {
          maxLength: 8,
        })
        .map((parts) => parts.join('')),
    },
    { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
    { weight: 1, arbitrary: nasty },
  );

  test('never throws; the result is one same-origin path that stays one when resolved again', () => {
    fc.assert(
      fc.property(fc.option(path, { nil: null }), (value) => {
        const target = safeReturnTo(value);
        expect(target.startsWith('/')).toBe(true);
        expect(target).not.toMatch(/^\/[/\\]/);
        // It becomes a Location header: no whitespace or controls to split or bend it.
        expect(target).not.toMatch(/[\u0000-\u0020\u007f]/);
        for (const base of [DUMMY, 'https://files.example.com/oauth2callback/google']) {
          const url = new URL(target, base);
          expect(url.origin).toBe(new URL(base).origin);
          // Already normalised: resolving it again changes nothing a browser would see.
          expect(url.pathname + url.search).toBe(target);
        }
        // A path it returns passes its own check unchanged.
        expect(safeReturnTo(target)).toBe(target);
      }),
      runs(3000),
    );
  });

  test('plain same-origin paths are kept', () => {
    const plain = fc
      .array(fc.stringMatching(/^[a-z0-9_-]{1,10}$/), { minLength: 1, maxLength: 4 })
      .map((segments) => `/${segments.join('/')}`);
    fc.assert(
      fc.property(plain, fc.option(fc.stringMatching(/^[a-z]{1,5}=[a-z0-9]{0,5}$/)), (p, q) => {
        const value = q === null ? p : `${p}?${q}`;
        expect(safeReturnTo(value)).toBe(value);
      }),
      runs(300),
    );
  });
});

describe('upload planning', () => {
  const S3_MIN_PART = 5 * MiB;
  const S3_MAX_PART = 5 * 1024 * MiB;
  /** Sizes up to S3's 5 TiB, crowded around the boundaries where rounding goes wrong. */
  const size = fc.oneof(
    fc.bigInt({ min: 1n, max: BigInt(MAX_OBJECT_BYTES) }).map(Number),
    fc.integer({ min: 1, max: 4 * MULTIPART_THRESHOLD_BYTES }),
    fc
      .tuple(
        fc.constantFrom(
          MULTIPART_THRESHOLD_BYTES,
          MAX_PLANNED_PARTS * MULTIPART_THRESHOLD_BYTES,
          MAX_OBJECT_BYTES,
          MAX_OBJECT_BYTES / MAX_PLANNED_PARTS,
        ),
        fc.integer({ min: -3, max: 3 }),
      )
      .map(([base, delta]) => Math.min(MAX_OBJECT_BYTES, Math.max(1, Math.round(base) + delta))),
  );

  test('parseSize never throws; what it accepts is whole bytes within S3 object limit', () => {
    const raw = fc.oneof(
      nasty,
      fc.bigInt({ min: 0n, max: 10n ** 17n }).map(String),
      fc.constantFrom('0', '-1', '1e3', '0x10', ' 1', '1 ', '1.0', '+1', '٣', '00000000000000001'),
    );
    fc.assert(
      fc.property(fc.option(raw, { nil: null }), (r) => {
        const parsed = parseSize(r);
        if (r === null) return expect(parsed).toBeUndefined();
        if (parsed === 'invalid') return;
        expect(Number.isSafeInteger(parsed)).toBe(true);
        expect(parsed).toBeGreaterThanOrEqual(0);
        expect(parsed).toBeLessThanOrEqual(MAX_OBJECT_BYTES);
        expect(r).toMatch(/^\d+$/);
        expect(parsed).toBe(Number(r));
      }),
      runs(2000),
    );
  });

  test("planParts covers every size S3 takes exactly, within S3's part limits", () => {
    fc.assert(
      fc.property(size, (n) => {
        const plan = planParts(n);
        expect(plan).toBeDefined();
        const { partSize, count } = plan!;
        expect(Number.isInteger(count)).toBe(true);
        expect(count).toBeGreaterThanOrEqual(1);
        expect(count).toBeLessThanOrEqual(Math.min(10_000, MAX_PLANNED_PARTS));
        expect(partSize % MiB).toBe(0);
        expect(partSize).toBeGreaterThanOrEqual(S3_MIN_PART);
        expect(partSize).toBeLessThanOrEqual(S3_MAX_PART);
        // Every part but the last is partSize; the last holds the rest, 1..partSize bytes.
        const last = n - (count - 1) * partSize;
        expect(last).toBeGreaterThan(0);
        expect(last).toBeLessThanOrEqual(partSize);
      }),
      runs(2000),
    );
  });

  const etag = fc.stringMatching(/^[0-9a-fA-F]{32}$/).map((h) => `"${h}"`);
  const validParts = fc
    .uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 50 })
    .chain((numbers) =>
      fc.tuple(
        ...[...numbers]
          .sort((a, b) => a - b)
          .map((partNumber) => etag.map((e) => ({ partNumber, etag: e }))),
      ),
    );

  test('parseParts never throws; what it accepts is an ascending list of S3 part numbers and ETags', () => {
    const item = fc.oneof(
      fc.record({
        partNumber: fc.oneof(
          fc.integer({ min: -2, max: 10_002 }),
          fc.double(),
          fc.string(),
          fc.constant(null),
        ),
        etag: fc.oneof(etag, nasty, fc.integer()),
      }),
      fc.anything(),
    );
    const raw = fc.oneof(
      fc.array(item, { maxLength: 6 }).map((a) => JSON.stringify(a)),
      validParts.map((p) => JSON.stringify(p)),
      fc.json(),
      nasty,
      fc.constantFrom('[{"__proto__":{"partNumber":1}}]', '{"length":1,"0":{}}', '[]'),
    );
    fc.assert(
      fc.property(fc.option(raw, { nil: null }), (r) => {
        const parts = parseParts(r);
        if (typeof parts === 'string') return;
        expect(parts.length).toBeGreaterThanOrEqual(1);
        expect(parts.length).toBeLessThanOrEqual(10_000);
        let previous = 0;
        for (const p of parts) {
          expect(Object.keys(p).sort()).toEqual(['etag', 'partNumber']);
          expect(Number.isInteger(p.partNumber)).toBe(true);
          expect(p.partNumber).toBeGreaterThan(previous);
          expect(p.partNumber).toBeLessThanOrEqual(10_000);
          expect(p.etag).toMatch(/^"[0-9a-fA-F]{32}"$/);
          previous = p.partNumber;
        }
      }),
      runs(2000),
    );
  });

  test('parseParts round-trips every valid list and refuses it out of order', () => {
    fc.assert(
      fc.property(validParts, (parts) => {
        expect(parseParts(JSON.stringify(parts))).toEqual(parts);
        if (parts.length > 1)
          expect(typeof parseParts(JSON.stringify([...parts].reverse()))).toBe('string');
      }),
      runs(300),
    );
  });

  test('content types and upload ids from the form cannot carry whitespace or controls into S3 requests', () => {
    fc.assert(
      fc.property(fc.option(nasty, { nil: null }), fc.option(nasty, { nil: null }), (t, id) => {
        const type = contentTypeOf(t);
        expect(type).toMatch(/^[\w.+-]+\/[\w.+-]+$/);
        const form = new URLSearchParams();
        if (id !== null) form.set('uploadId', id);
        const uploadId = uploadIdOf(form);
        if (uploadId !== undefined) expect(uploadId).toMatch(/^[\x21-\x7e]{1,1024}$/);
      }),
      runs(1000),
    );
  });
});
