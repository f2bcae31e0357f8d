/**
 * docs/security.md names every security rule; code that enforces a rule cites its name in
 * a comment, and a test that proves it carries the name in its title or a comment. This
 * test holds both ends of every citation: removing the last one from the code, or from
 * the tests, turns it red, and so does a "proved by" test file that no longer exists.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const SECURITY_MD = path.join(ROOT, 'docs', 'security.md');
/** The folders holding the code that enforces the rules. */
const SOURCE_DIRS = ['lambda', 'lib', 'local', 'cli', 'common', 'scripts'];
const SOURCE_FILE = /\.(ts|cjs|mjs|js)$/;

/**
 * Rules enforced only by configuration outside the code, so no source file can cite them.
 * Each entry says why. Keep it empty unless that is really so.
 */
const ENFORCED_OUTSIDE_CODE: ReadonlySet<string> = new Set<string>([]);

/** One rule row of a table: its name, and the "proved by" cell (the last column). */
interface RuleRow {
  readonly name: string;
  readonly provedBy: string;
}

/** The rule rows of docs/security.md: table rows whose first cell is a backquoted name. */
function ruleRows(markdown: string): RuleRow[] {
  return markdown
    .split('\n')
    .map((line) => /^\|\s*`([a-z0-9]+(?:-[a-z0-9]+)+)`\s*\|(.*)\|\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1], provedBy: m[2].split('|').at(-1)!.trim() }));
}

/** Every file under `dir` (relative to the repository) matching `pattern`, recursively. */
function filesUnder(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const child = path.join(abs, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (pattern.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(child);
    }
  };
  walk(path.join(ROOT, dir));
  return out;
}

/** The rule names each file mentions as a whole word (so `state-required` is not `state-required-x`). */
function citedIn(files: readonly string[], names: readonly string[]): Map<string, string[]> {
  const cited = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    for (const name of names) {
      if (new RegExp(`(?<![a-z0-9-])${name}(?![a-z0-9-])`).test(text)) {
        cited.get(name)!.push(path.relative(ROOT, file));
      }
    }
  }
  return cited;
}

/**
 * The test files a "proved by" cell names that do not exist: `test/cli/args.test` is a
 * path as written, a short `app.test` must match some `test/**\/app.test.ts`.
 */
function missingTestFiles(provedBy: string, testFiles: readonly string[]): string[] {
  return [...provedBy.matchAll(/`([\w./-]+\.test)(?:\.ts)?`/g)]
    .map((m) => m[1])
    .filter((cited) =>
      cited.startsWith('test/')
        ? !testFiles.includes(`${cited}.ts`)
        : !testFiles.some((f) => path.basename(f) === `${cited}.ts`),
    );
}

const rows = ruleRows(fs.readFileSync(SECURITY_MD, 'utf8'));
const names = rows.map((r) => r.name);
const sources = SOURCE_DIRS.flatMap((d) => filesUnder(d, SOURCE_FILE)).filter(
  (f) => !f.endsWith('.test.ts'),
);
const tests = filesUnder('test', /\.ts$/).filter((f) => f !== __filename);
const inSources = citedIn(sources, names);
const inTests = citedIn(tests, names);

describe('docs/security.md: every rule is cited in code and in a test', () => {
  test('the rule tables parse: many rules, each named once', () => {
    // A format change that hid the rows would otherwise make every check below vacuous.
    expect(rows.length).toBeGreaterThanOrEqual(50);
    expect(new Set(names).size).toBe(names.length);
  });

  test('the exemption list names only rules of docs/security.md', () => {
    expect([...ENFORCED_OUTSIDE_CODE].filter((n) => !names.includes(n))).toEqual([]);
  });

  test.each(names)('%s is cited by the code that enforces it', (name) => {
    if (ENFORCED_OUTSIDE_CODE.has(name)) return;
    expect({ rule: name, citedIn: inSources.get(name) }).toEqual({
      rule: name,
      citedIn: expect.arrayContaining([expect.any(String)]),
    });
  });

  test.each(names)('%s is cited by a test that proves it', (name) => {
    expect({ rule: name, citedIn: inTests.get(name) }).toEqual({
      rule: name,
      citedIn: expect.arrayContaining([expect.any(String)]),
    });
  });

  test.each(rows.map((r) => [r.name, r.provedBy] as const))(
    '%s: every test file it cites exists',
    (name, provedBy) => {
      const relative = tests.map((f) => path.relative(ROOT, f));
      expect({ rule: name, missing: missingTestFiles(provedBy, relative) }).toEqual({
        rule: name,
        missing: [],
      });
    },
  );
});
