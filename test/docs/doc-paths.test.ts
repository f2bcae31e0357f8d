/**
 * README.md and docs/*.md name files of this repository (`lambda/callback/names.ts`,
 * `test/support/cli-harness.ts`, links such as `docs/cli-consent.png`). A file moved or
 * renamed without its mention turns this red.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .flatMap((f) => (f.endsWith('.md') ? [`docs/${f}`] : [])),
];
/** The top-level folders whose files the docs name. */
const TOP = [
  'bin',
  'cli',
  'common',
  'config',
  'docs',
  'integ',
  'lambda',
  'lib',
  'local',
  'scripts',
  'test',
];
/** A path starting at one of them, not part of a longer path, URL or query (`?prefix=docs/`). */
const REPO_PATH = new RegExp(`(?<![\\w./~=-])((?:${TOP.join('|')})/[\\w./-]*\\w)`, 'g');
/** Paths the docs name as examples of what the reader creates, not as files of the repository. */
const EXAMPLES = new Set(['config/prod.json']);

/** Every repository path a document mentions, as `file:line: path`, with the path. */
function mentions(doc: string): { where: string; mentioned: string }[] {
  const lines = fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n');
  return lines.flatMap((line, i) =>
    [...line.matchAll(REPO_PATH)].map((m) => ({ where: `${doc}:${i + 1}`, mentioned: m[1] })),
  );
}

/** Relative links (`[text](cli-sign-in.md)`), resolved against the document's folder. */
function links(doc: string): { where: string; mentioned: string }[] {
  const lines = fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n');
  return lines.flatMap((line, i) =>
    [...line.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)]
      .filter((m) => !/^[a-z]+:/.test(m[1]))
      .map((m) => ({
        where: `${doc}:${i + 1}`,
        mentioned: path.join(path.dirname(doc), m[1]),
      })),
  );
}

const exists = (p: string) =>
  fs.existsSync(path.join(ROOT, p)) || fs.existsSync(path.join(ROOT, `${p}.ts`));

describe('README.md and docs/*.md name only files that exist', () => {
  test('the documents mention many repository paths (the pattern still finds them)', () => {
    expect(DOCS.flatMap(mentions).length).toBeGreaterThanOrEqual(50);
  });

  test.each(DOCS)('%s: every repository path and relative link exists', (doc) => {
    const missing = [...mentions(doc), ...links(doc)].filter(
      (m) => !EXAMPLES.has(m.mentioned) && !exists(m.mentioned),
    );
    expect(missing).toEqual([]);
  });
});
