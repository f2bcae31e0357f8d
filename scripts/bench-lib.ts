/**
 * Small helpers for `npm run bench`: time fresh processes, summarize, print a table.
 * A benchmark is a list of sections; each section returns rows, so adding a measurement
 * is adding a section in scripts/bench.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AppConfig } from '../common/app-config';

export interface Stats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: readonly number[];
}

/** A target a measurement is judged against, e.g. `< 4 s`. */
export interface Target {
  readonly text: string;
  readonly ok: boolean;
  /** A correctness target (no object lost...): missing it makes the bench exit non-zero. */
  readonly required?: boolean;
}

/** One line of the table: timed stats, or a derived value (ratio, difference). */
export interface BenchRow {
  readonly name: string;
  readonly stats?: Stats;
  /** A derived value shown in the median column, e.g. `1.12x`. */
  readonly value?: string;
  readonly target?: Target;
}

export interface BenchOptions {
  /** Fresh processes per measurement. */
  readonly runs: number;
  /** Runs of the slower end-to-end measurements (`cdk synth`). */
  readonly cliRuns: number;
  /** Per-process time limit. */
  readonly timeoutMs: number;
  /** The repository root. */
  readonly cwd: string;
  /** Only the section with this id, or else those whose title contains this text (case-insensitive). */
  readonly only?: string;
}

export interface BenchSection {
  /** A short name `--only` matches exactly (before it tries the titles). */
  readonly id?: string;
  readonly title: string;
  run(opts: BenchOptions): BenchRow[];
}

export const MAX_RUNS = 25;

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Calls `fn` `runs` times (bounded by MAX_RUNS) after `warmup` unmeasured calls;
 * `fn` returns one sample in seconds.
 */
export function medianOf(runs: number, fn: () => number, warmup = 1): Stats {
  const n = Math.max(1, Math.min(MAX_RUNS, Math.floor(runs)));
  for (let i = 0; i < warmup; i++) fn();
  const samples = Array.from({ length: n }, () => fn());
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples };
}

export interface ProcessRun {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Runs a process to completion and returns its wall time in seconds; throws if it fails. */
export function timeProcess(run: ProcessRun): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(run.command, [...run.args], {
    cwd: run.cwd,
    env: { ...process.env, ...run.env },
    timeout: run.timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`);
    const tail = String(r.stderr ?? '')
      .trim()
      .split('\n')
      .slice(-15)
      .join('\n');
    throw new Error(`${run.command} ${run.args.join(' ')} failed (${why}):\n${tail}`);
  }
  return seconds;
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bench-'));
  try {
    return fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function machineInfo(): string {
  const cpus = os.cpus();
  const gib = (os.totalmem() / 2 ** 30).toFixed(1);
  return `${cpus.length} cpus (${cpus[0]?.model.trim() ?? 'unknown'}), ${gib} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`;
}

/** Parses `--runs N`, `--cli-runs N`, `--timeout SECONDS` (each bounded), `--only ID|TEXT`. */
export function parseBenchArgs(argv: readonly string[], cwd: string): BenchOptions {
  const num = (flag: string, fallback: number, max: number): number => {
    const i = argv.indexOf(flag);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 1 || v > max) {
      throw new Error(`${flag} must be a whole number from 1 to ${max}, got ${argv[i + 1]}.`);
    }
    return v;
  };
  const known = ['--runs', '--cli-runs', '--timeout', '--only'];
  const unknown = argv.filter((a) => a.startsWith('--') && !known.includes(a));
  if (unknown.length > 0) {
    throw new Error(
      `unknown option ${unknown.join(' ')}; use --runs N, --cli-runs N, --timeout SECONDS, --only ID|TEXT.`,
    );
  }
  const o = argv.indexOf('--only');
  const only = o < 0 ? undefined : argv[o + 1];
  if (o >= 0 && !only)
    throw new Error('--only needs part of a section title, e.g. --only sandbox.');
  return {
    only,
    runs: num('--runs', 5, MAX_RUNS),
    cliRuns: num('--cli-runs', 3, MAX_RUNS),
    timeoutMs: num('--timeout', 120, 600) * 1000,
    cwd,
  };
}

export const seconds = (s: number): string => `${s.toFixed(2)} s`;

/**
 * Runs every section and renders one aligned text table, section titles on their own lines;
 * `missed` names the required targets that were missed.
 */
export function runSections(
  sections: readonly BenchSection[],
  opts: BenchOptions,
): { table: string; missed: string[] } {
  const only = opts.only?.toLowerCase();
  const byId = sections.filter((s) => s.id !== undefined && s.id === only);
  const chosen =
    byId.length > 0
      ? byId
      : only
        ? sections.filter((s) => s.title.toLowerCase().includes(only))
        : sections;
  if (chosen.length === 0) throw new Error(`no section title contains '${opts.only}'.`);
  const header = ['measurement', 'median', 'min', 'max', 'target', ''];
  const rows: (string[] | string)[] = [];
  const missed: string[] = [];
  for (const section of chosen) {
    rows.push(section.title);
    for (const row of section.run(opts)) {
      if (row.target?.required && !row.target.ok) missed.push(row.name.trim());
      rows.push([
        '  ' + row.name,
        row.value ?? (row.stats ? seconds(row.stats.median) : ''),
        row.stats ? seconds(row.stats.min) : '',
        row.stats ? seconds(row.stats.max) : '',
        row.target?.text ?? '',
        row.target ? (row.target.ok ? 'ok' : 'MISSED') : '',
      ]);
    }
  }
  const cells = [header, ...rows.filter((r): r is string[] => Array.isArray(r))];
  const widths = header.map((_h, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[] | string) =>
    typeof r === 'string'
      ? r
      : r
          .map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c])))
          .join('  ')
          .trimEnd();
  return { table: [line(header), ...rows.map(line)].join('\n'), missed };
}

/** The app's configuration for the handler benches (cold start, warm page view). */
export const APP_CONFIG_FOR_BENCH: AppConfig = {
  baseUrl: 'https://files.example.com',
  region: 'eu-west-1',
  bucket: 'user-data-bucket',
  durationSeconds: 3600,
  cookieKeySecretId: 'cookie-key',
  sandbox: true,
  providers: [
    {
      name: 'google',
      family: 'google',
      displayName: 'Google',
      clientId: '1-a.apps.googleusercontent.com',
      clientSecretId: 'google-secret',
      issuer: 'https://accounts.google.com',
      roleArn: 'arn:aws:iam::123456789012:role/google-users',
    },
  ],
};
