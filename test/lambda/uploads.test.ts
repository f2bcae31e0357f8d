import {
  contentTypeOf,
  MAX_OBJECT_BYTES,
  MAX_PLANNED_PARTS,
  MIN_PART_BYTES,
  MULTIPART_THRESHOLD_BYTES,
  parseParts,
  parseSize,
  partUrlSeconds,
  planParts,
  uploadIdOf,
} from '../../lambda/callback/uploads';

const MiB = 1024 * 1024;
const etag = (n: number) => `"${n.toString(16).padStart(32, '0')}"`;

describe('parseSize', () => {
  test('absent is undefined (the script may not know the size)', () => {
    expect(parseSize(null)).toBeUndefined();
  });

  test.each(['0', '1', String(MULTIPART_THRESHOLD_BYTES), String(MAX_OBJECT_BYTES)])(
    'whole bytes up to 5 TiB: %s',
    (raw) => {
      expect(parseSize(raw)).toBe(Number(raw));
    },
  );

  test.each(['', '-1', '1.5', '1e3', ' 1', '0x10', String(MAX_OBJECT_BYTES + 1), '1'.repeat(17)])(
    'anything else is invalid: %j',
    (raw) => {
      expect(parseSize(raw)).toBe('invalid');
    },
  );
});

describe('contentTypeOf', () => {
  test.each([
    [null, 'application/octet-stream'],
    ['text/plain', 'text/plain'],
    ['application/vnd.ms-excel', 'application/vnd.ms-excel'],
    ['image/svg+xml', 'image/svg+xml'],
    ['text/html; charset=utf-8', 'application/octet-stream'],
    ['a b', 'application/octet-stream'],
    ['text', 'application/octet-stream'],
    ['', 'application/octet-stream'],
  ])('%j -> %s', (raw, expected) => {
    expect(contentTypeOf(raw)).toBe(expected);
  });
});

describe('planParts', () => {
  test('the smallest multipart upload gets two parts of the minimum size', () => {
    expect(planParts(MULTIPART_THRESHOLD_BYTES + 1)).toEqual({
      partSize: MIN_PART_BYTES,
      count: 2,
    });
  });

  test('part sizes are whole MiB and the count stays within the planned maximum', () => {
    for (const size of [MIN_PART_BYTES * MAX_PLANNED_PARTS * 3 + 7, MAX_OBJECT_BYTES]) {
      const plan = planParts(size)!;
      expect(plan.partSize % MiB).toBe(0);
      expect(plan.count).toBeLessThanOrEqual(MAX_PLANNED_PARTS);
      expect(plan.count * plan.partSize).toBeGreaterThanOrEqual(size);
    }
  });

  test('a size that would need parts over 5 GiB cannot be planned', () => {
    expect(planParts(MAX_PLANNED_PARTS * 5 * 1024 * MiB + 1)).toBeUndefined();
  });
});

describe('partUrlSeconds', () => {
  const now = Date.UTC(2026, 0, 1);

  test('part URLs live as long as the credentials', () => {
    expect(partUrlSeconds(now + 3_600_500, now)).toBe(3600);
  });

  test('at least one second, at most 7 days', () => {
    expect(partUrlSeconds(now - 10_000, now)).toBe(1);
    expect(partUrlSeconds(now + 30 * 24 * 3600_000, now)).toBe(7 * 24 * 3600);
  });
});

describe('parseParts', () => {
  test('an ascending list with part ETags is returned as is', () => {
    const parts = [
      { partNumber: 1, etag: etag(1) },
      { partNumber: 3, etag: etag(3).toUpperCase() },
    ];
    expect(parseParts(JSON.stringify(parts))).toEqual(parts);
  });

  test('extra fields are dropped', () => {
    expect(parseParts(JSON.stringify([{ partNumber: 1, etag: etag(1), size: 5 }]))).toEqual([
      { partNumber: 1, etag: etag(1) },
    ]);
  });

  test.each([null, '', 'nope', '{}', '[]', '[1]', JSON.stringify([{ partNumber: 1 }])])(
    '%j is refused with a message',
    (raw) => {
      expect(parseParts(raw)).toBe('The list of uploaded parts is missing or malformed.');
    },
  );
});

describe('uploadIdOf', () => {
  test.each([
    ['abc.DEF-123_~', 'abc.DEF-123_~'],
    ['~'.repeat(1024), '~'.repeat(1024)],
  ])('printable ASCII up to 1,024 characters is kept', (raw, expected) => {
    expect(uploadIdOf(new URLSearchParams({ uploadId: raw }))).toBe(expected);
  });

  test.each(['', 'a b', 'a\tb', 'é', '~'.repeat(1025)])('%j is refused', (raw) => {
    expect(uploadIdOf(new URLSearchParams({ uploadId: raw }))).toBeUndefined();
  });

  test('a missing upload id is refused', () => {
    expect(uploadIdOf(new URLSearchParams())).toBeUndefined();
  });
});
