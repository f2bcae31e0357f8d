/**
 * `npm run bench [-- --runs N --cli-runs N --timeout SECONDS --only ID|TEXT]`: synth time of the app
 * against a one-empty-stack baseline, with and without aws-cdk-lib's built-in
 * CloudFormation validation, each sample a fresh process. Add a measurement by adding
 * a section to SECTIONS.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { credentialProcessSection } from './bench-cli-command';
import { handlerSections, synthesizedBundle } from './bench-handler';
import { loadSections } from './bench-load';
import { sandboxSections } from './bench-sandbox';
import {
  BenchOptions,
  BenchSection,
  Stats,
  machineInfo,
  medianOf,
  parseBenchArgs,
  runSections,
  seconds,
  timeProcess,
  withTempDir,
} from './bench-lib';

const ROOT = path.resolve(__dirname, '..');
const TARGET_FULL_SECONDS = 4;
const TARGET_RATIO = 1.5;
const CONTEXT_JSON = JSON.stringify({ stage: 'example' });
const FULL = { entry: 'bin/app.ts', template: 'WebIdFederation-example.template.json' };
const BASELINE = {
  entry: 'scripts/bench-baseline-app.ts',
  template: 'BenchBaseline.template.json',
};

/**
 * One synth in a fresh process, the way the CDK CLI runs an app: App reads its outdir
 * from CDK_OUTDIR and its context from CDK_CONTEXT_JSON. `node --import tsx` is the
 * same loader as cdk.json's `npx tsx`, without npx's start-up and tsx's extra child process.
 */
function synthOnce(
  opts: BenchOptions,
  app: { entry: string; template: string },
  validation: boolean,
  context: string = CONTEXT_JSON,
): number {
  return withTempDir((outdir) => {
    const t = timeProcess({
      command: process.execPath,
      args: ['--import', 'tsx', app.entry],
      cwd: opts.cwd,
      env: {
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: context,
        // Read by aws-cdk-lib's defaultValidationEnabled(): "false" turns the plugin off.
        CDK_VALIDATION: validation ? 'true' : 'false',
      },
      timeoutMs: opts.timeoutMs,
    });
    if (!fs.existsSync(path.join(outdir, app.template))) {
      throw new Error(`${app.entry} exited 0 but wrote no ${app.template}`);
    }
    return t;
  });
}

function measure(label: string, runs: number, fn: () => number): Stats {
  process.stderr.write(`bench: ${label}: 1 warm-up + ${runs} measured run(s)\n`);
  return medianOf(runs, fn);
}

const synthSection: BenchSection = {
  title: `app synth (node --import tsx <app>, CDK_OUTDIR=<temp>, CDK_CONTEXT_JSON='${CONTEXT_JSON}')`,
  run(opts) {
    const m = (app: typeof FULL, validation: boolean) =>
      measure(`${app.entry}, validation ${validation ? 'on' : 'off'}`, opts.runs, () =>
        synthOnce(opts, app, validation),
      );
    const full = m(FULL, true);
    const base = m(BASELINE, true);
    const fullOff = m(FULL, false);
    const baseOff = m(BASELINE, false);
    // The same synth without esbuild bundling the Lambda: what the constructs cost.
    const noBundling = measure('bin/app.ts, validation off, bundling skipped', opts.runs, () =>
      synthOnce(
        opts,
        FULL,
        false,
        JSON.stringify({ stage: 'example', 'aws:cdk:bundling-stacks': [] }),
      ),
    );
    const ratio = full.median / base.median;
    const ratioOff = fullOff.median / baseOff.median;
    // bin/app.ts runs aws-cdk-lib's CloudFormation validation only with CDK_VALIDATION=true
    // (npm run review, one test): the default `cdk synth` is the validation-off pair.
    return [
      {
        name: 'full app, default cdk synth (validation off)',
        stats: fullOff,
        target: { text: `< ${TARGET_FULL_SECONDS} s`, ok: fullOff.median < TARGET_FULL_SECONDS },
      },
      { name: 'baseline, one empty stack (validation off)', stats: baseOff },
      {
        name: 'ratio full / baseline (validation off)',
        value: `${ratioOff.toFixed(2)}x`,
        target: { text: `<= ${TARGET_RATIO}x`, ok: ratioOff <= TARGET_RATIO },
      },
      { name: 'full app, Lambda bundling skipped (validation off)', stats: noBundling },
      {
        name: 'ratio of that / baseline (validation off)',
        value: `${(noBundling.median / baseOff.median).toFixed(2)}x`,
      },
      {
        name: 'esbuild bundling of the Lambda',
        value: seconds(fullOff.median - noBundling.median),
      },
      { name: 'full app, CDK_VALIDATION=true (npm run review)', stats: full },
      { name: 'baseline, CDK_VALIDATION=true', stats: base },
      { name: 'ratio full / baseline (validation on)', value: `${ratio.toFixed(2)}x` },
      {
        name: 'built-in CFN validation cost, full app',
        value: seconds(full.median - fullOff.median),
      },
      {
        name: 'built-in CFN validation cost, baseline',
        value: seconds(base.median - baseOff.median),
      },
    ];
  },
};

const cliSection: BenchSection = {
  title: 'for context (CLI end to end; cdk.json runs the app with npx tsx)',
  run(opts) {
    const stats = measure('npx cdk synth --quiet', opts.cliRuns, () =>
      withTempDir((outdir) => {
        const t = timeProcess({
          command: 'npx',
          args: ['cdk', 'synth', '--quiet', '-o', outdir],
          cwd: opts.cwd,
          timeoutMs: opts.timeoutMs,
        });
        if (!fs.existsSync(path.join(outdir, FULL.template))) {
          throw new Error(`cdk synth exited 0 but wrote no ${FULL.template}`);
        }
        return t;
      }),
    );
    return [{ name: 'npx cdk synth --quiet -o <temp>', stats }];
  },
};

let bundleDir: string | undefined;
let bundlePath: string | undefined;
/** The callback bundle, synthesized once per bench run into a temp dir. */
function bundle(opts: BenchOptions): string {
  bundleDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bench-bundle-'));
  bundlePath ??= synthesizedBundle(opts, bundleDir);
  return bundlePath;
}

const SECTIONS = (opts: BenchOptions): BenchSection[] => [
  synthSection,
  cliSection,
  ...handlerSections(() => bundle(opts)),
  credentialProcessSection,
  ...sandboxSections(),
  ...loadSections(),
];

function main(): number {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(process.argv.slice(2), ROOT);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 2;
  }
  try {
    const { table, missed } = runSections(SECTIONS(opts), opts);
    console.log(
      [
        `Benchmark: medians of ${opts.runs} fresh processes per app row (${opts.cliRuns} for cdk synth), ` +
          `1 warm-up run each not counted, ${opts.timeoutMs / 1000} s limit per run`,
        `Machine: ${machineInfo()}`,
        '',
        table,
      ].join('\n'),
    );
    if (missed.length > 0) {
      console.error(`bench: required targets missed: ${missed.join('; ')}`);
      return 1;
    }
    return 0;
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 1;
  } finally {
    if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
  }
}

process.exitCode = main();
