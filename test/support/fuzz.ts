import fc from 'fast-check';

/**
 * Shared pieces of the property-based fuzz tests (test/lambda/fuzz-*.test.ts): hostile
 * strings, query strings and form bodies, and the run settings.
 */

/**
 * Run settings: a fixed number of runs keeps the suite's time bounded. fast-check prints
 * the seed and path of a failure; FUZZ_SEED replays it, FUZZ_RUNS_FACTOR searches longer.
 */
export function runs(numRuns: number): fc.Parameters<unknown> {
  const factor = Number(process.env.FUZZ_RUNS_FACTOR ?? 1) || 1;
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return { numRuns: Math.ceil(numRuns * factor), ...(seed === undefined ? {} : { seed }) };
}

/** Marks attacker text; an HTML body that contains it raw echoed input unescaped. */
export const XSS = '<xss';

/**
 * Pieces that have broken parsers before: separators, dot segments, percent-escapes
 * (valid, double, overlong UTF-8, truncated, invalid), control and bidi characters,
 * lone surrogates, markup, IAM wildcards and policy variables, prototype names.
 */
export const TOKENS: readonly string[] = [
  'a',
  'Z',
  '0',
  '9',
  '.',
  '..',
  '/',
  '\\',
  '//',
  '/\\',
  '../',
  '..\\',
  '%',
  '%2',
  '%2F',
  '%2f',
  '%2e',
  '%2E%2E',
  '%5C',
  '%252F',
  '%00',
  '%0A',
  '%0d%0a',
  '%C0%AF',
  '%E0%A4%A',
  '%FF',
  '%ZZ',
  '%uD800',
  '&',
  '=',
  '?',
  '#',
  '+',
  ';',
  ',',
  ':',
  '@',
  ' ',
  '\u0000',
  '\t',
  '\n',
  '\r',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\ud83d\ude00',
  'é',
  'e\u0301',
  'ﬁ',
  '"',
  "'",
  '`',
  '<',
  '>',
  `${XSS}>`,
  `"><${XSS.slice(1)} a=1>`,
  '<script>alert(1)</script>',
  '</textarea>',
  '*',
  '$',
  // An IAM policy variable spelled out on purpose: a subject must never carry one.
  // eslint-disable-next-line no-template-curly-in-string
  '${aws:userid}',
  'https:',
  'https://evil.example',
  'javascript:',
  'evil.example',
  'constructor',
  '__proto__',
  'toString',
  'csrf',
  'name',
  'state',
  'code',
  'error',
  'return_to',
];

const HUGE: readonly string[] = [
  'A'.repeat(600),
  'é'.repeat(600),
  '%41'.repeat(400),
  XSS.repeat(300),
  '/..'.repeat(400),
  'B'.repeat(9000),
];

/** Hostile text: mostly made of {@link TOKENS}, some arbitrary code points, a few huge values. */
export const nasty: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...TOKENS), maxLength: 8 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE) },
);

/** Percent-encodes when the text is well-formed, else leaves it raw (lone surrogates). */
export function encodeLoose(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return text;
  }
}

/** One `key=value` of a query string or form body: encoded, raw, or a bare key. */
export function pair(key: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(key, value, fc.constantFrom('encoded', 'raw', 'bare', 'empty'))
    .map(([k, v, how]) =>
      how === 'encoded'
        ? `${encodeLoose(k)}=${encodeLoose(v)}`
        : how === 'raw'
          ? `${k}=${v}`
          : how === 'bare'
            ? k
            : `${encodeLoose(k)}=`,
    );
}

/** A query string or form body: pairs (duplicates likely) joined by `&`, or raw garbage. */
export function formText(
  key: fc.Arbitrary<string>,
  value: (key: string) => fc.Arbitrary<string>,
): fc.Arbitrary<string> {
  const field = key.chain((k) => pair(fc.constant(k), value(k)));
  return fc.oneof(
    { weight: 5, arbitrary: fc.array(field, { maxLength: 6 }).map((p) => p.join('&')) },
    { weight: 1, arbitrary: nasty },
  );
}
