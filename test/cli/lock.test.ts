import * as fs from 'node:fs';
import * as path from 'node:path';
import { withLock } from '../../cli/lock';
import { FakeBroker } from '../support/fake-broker';
import { CliHarness, eachTestWithBroker } from '../support/cli-harness';

const HOUR = 3600_000;

describe('wif-login: one sign-in at a time per cache entry', () => {
  let broker: FakeBroker;
  let cli: CliHarness;

  eachTestWithBroker((b, c) => {
    broker = b;
    cli = c;
    cli.expireIn(HOUR);
  });

  it('three credentials runs with no cache sign in once; the others wait and print the same credentials', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => cli.run(['credentials'])));
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(runs.flatMap((r) => r.opened)).toHaveLength(1);
    expect(broker.issued).toHaveLength(1);
    const keys = runs.map((r) => JSON.parse(r.stdout).AccessKeyId);
    expect(new Set(keys)).toEqual(new Set([broker.issued[0].credentials.AccessKeyId]));
    expect(runs.filter((r) => r.stderr.includes('waiting for it'))).toHaveLength(2);
    // The lock is gone afterwards: only the cache entry is left.
    expect(cli.cacheFiles()).toEqual([expect.stringMatching(/^[0-9a-f]{64}\.json$/)]);
  });

  it('takes over a lock whose process is gone', async () => {
    fs.mkdirSync(cli.cacheDir, { recursive: true });
    const first = await cli.run(['credentials']);
    const [entry] = cli.cacheFiles();
    fs.rmSync(path.join(cli.cacheDir, entry));
    // A pid above Linux's pid_max: no such process.
    fs.writeFileSync(path.join(cli.cacheDir, `${entry}.lock`), '4194305');
    const run = await cli.run(['credentials']);
    expect(first.code).toBe(0);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toContain('waiting');
    expect(run.opened).toHaveLength(1);
  });

  it('takes over a lock older than a whole sign-in may take, even of a live process', async () => {
    const file = path.join(cli.dir, 'entry.json.lock');
    fs.writeFileSync(file, String(process.pid));
    const old = new Date(Date.now() - 10_000);
    fs.utimesSync(file, old, old);
    let waited = false;
    const result = await withLock(
      file,
      { staleMs: 5_000, pollMs: 10, onWait: () => (waited = true) },
      async () => fs.readFileSync(file, 'utf8'),
    );
    expect(result).toBe(String(process.pid));
    expect(waited).toBe(false);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('waits while a live process holds a fresh lock, and goes on once it is released', async () => {
    const file = path.join(cli.dir, 'entry.json.lock');
    fs.writeFileSync(file, String(process.pid));
    let waited = false;
    const order: string[] = [];
    setTimeout(() => {
      order.push('released');
      fs.rmSync(file);
    }, 100);
    await withLock(
      file,
      { staleMs: 60_000, pollMs: 10, onWait: () => (waited = true) },
      async () => {
        order.push('ran');
      },
    );
    expect(waited).toBe(true);
    expect(order).toEqual(['released', 'ran']);
  });

  it('without a writable cache directory, runs unlocked (and the sign-in still works)', async () => {
    const blocked = path.join(cli.dir, 'not-a-dir');
    fs.writeFileSync(blocked, '');
    const result = await withLock(
      path.join(blocked, 'x.lock'),
      { staleMs: 1000 },
      async () => 'ran',
    );
    expect(result).toBe('ran');
  });
});
