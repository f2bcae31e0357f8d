import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CLI_ASSET_FILE,
  CLI_ENTRY,
  cliBuildArgs,
  esbuildCommand,
  shellCommand,
} from '../../lib/cli-command';

const ROOT = path.join(__dirname, '..', '..');

describe('the command-line tool build', () => {
  test('one readable CommonJS file for Node 18+, with a shebang and inline license comments', () => {
    expect(cliBuildArgs('in.ts', 'out.cjs')).toEqual([
      'in.ts',
      '--bundle',
      '--platform=node',
      '--format=cjs',
      '--target=node18',
      '--banner:js=#!/usr/bin/env node',
      '--legal-comments=inline',
      '--outfile=out.cjs',
      '--log-level=warning',
    ]);
    expect(cliBuildArgs('in.ts', 'out.cjs').some((a) => a.startsWith('--minify'))).toBe(false);
    expect(CLI_ENTRY).toBe(path.join(ROOT, 'cli', 'wif-login.ts'));
    expect(CLI_ASSET_FILE).toBe('static/wif-login.cjs');
  });

  test("esbuild is the project's own devDependency, resolved from the project root", () => {
    const [command, ...args] = esbuildCommand(ROOT);
    const version = spawnSync(command, [...args, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(
      JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/esbuild/package.json'), 'utf8'))
        .version,
    );
    expect(() => esbuildCommand(os.tmpdir())).toThrow(/esbuild is not installed in .*npm ci/);
  });

  test('the command line reaches bash as the exact arguments', () => {
    const args = ['plain', 'with space', "it's", '$HOME `id` "q" \\ !', '#!/usr/bin/env node'];
    const out = spawnSync('bash', ['-c', `printf '%s\\n' ${shellCommand(args, 'linux')}`], {
      encoding: 'utf8',
    });
    expect(out.stdout).toBe(args.map((a) => `${a}\n`).join(''));
    expect(shellCommand(['C:\\a b\\x.ts', '--banner:js=#!/usr/bin/env node'], 'win32')).toBe(
      '"C:\\a b\\x.ts" "--banner:js=#!/usr/bin/env node"',
    );
    expect(() => shellCommand(['a"b'], 'win32')).toThrow(/cannot pass/);
  });

  test('npm run build:cli writes the same file the function asset gets', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-cli-'));
    try {
      const [command, ...rest] = esbuildCommand(ROOT);
      const out = path.join(dir, 'wif-login.cjs');
      const build = spawnSync(command, [...rest, ...cliBuildArgs(CLI_ENTRY, out)], {
        encoding: 'utf8',
        cwd: ROOT,
      });
      expect(build.stderr).toBe('');
      const script = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'scripts', 'build-cli.ts')],
        { encoding: 'utf8', cwd: ROOT },
      );
      expect(script.stderr).toBe('');
      expect(script.status).toBe(0);
      expect(fs.readFileSync(path.join(ROOT, 'dist', 'cli', 'wif-login.cjs'), 'utf8')).toBe(
        fs.readFileSync(out, 'utf8'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
