/**
 * `npm run review [-- <cdk synth args>]`: synthesizes the app exactly as `cdk synth`
 * would, then prints an access report of every stack in the cloud assembly and writes
 * it to `<outdir>/access-report.md`.
 *
 *   npm run review -- -c stage=example
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildAccessReport } from '../lib/review/access-report';

interface Manifest {
  readonly artifacts?: Record<
    string,
    {
      readonly type: string;
      readonly displayName?: string;
      readonly properties?: { readonly templateFile?: string; readonly directoryName?: string };
    }
  >;
}

const SYNTH_TIMEOUT_MS = 10 * 60 * 1000;

function main(): number {
  const args = process.argv.slice(2);
  const outdir = outdirOf(args);
  const reportFile = path.join(outdir, 'access-report.md');
  // A report left from an earlier synth must not pass for this one.
  fs.rmSync(reportFile, { force: true });

  // The synth's own output goes to stderr, so stdout carries only the report.
  const synth = spawnSync('npx', ['cdk', 'synth', '--quiet', ...args], {
    stdio: ['inherit', process.stderr, process.stderr],
    timeout: SYNTH_TIMEOUT_MS,
    // The reviewer gets aws-cdk-lib's CloudFormation validation too (off in plain synth).
    env: { ...process.env, CDK_VALIDATION: 'true' },
  });
  if (synth.error || synth.status !== 0) {
    const why = synth.error
      ? synth.error.message
      : synth.signal
        ? `killed by ${synth.signal}`
        : `exit code ${synth.status}`;
    console.error(
      `\nreview: 'npx cdk synth --quiet ${args.join(' ')}' failed (${why}); no access report was written. ` +
        'Fix the errors above and run again.',
    );
    return 1;
  }

  const stacks = stackTemplates(outdir);
  if (stacks.length === 0) {
    console.error(`review: no stacks found in ${path.join(outdir, 'manifest.json')}.`);
    return 1;
  }
  const report = stacks
    .map(({ name, file }) =>
      buildAccessReport(JSON.parse(fs.readFileSync(file, 'utf8')), { stackName: name }),
    )
    .join('\n---\n\n');
  process.stdout.write(report);
  fs.writeFileSync(reportFile, report);
  console.error(`\nreview: access report written to ${path.relative(process.cwd(), reportFile)}`);
  return 0;
}

/** The `-o` / `--output` the user passed to cdk, else cdk.json's `output`, else cdk.out. */
function outdirOf(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    const m = /^(?:-o|--output)(?:=(.+))?$/.exec(args[i]);
    if (m) return path.resolve(m[1] ?? args[i + 1]);
  }
  const cdkJson = JSON.parse(fs.readFileSync('cdk.json', 'utf8')) as { output?: string };
  return path.resolve(cdkJson.output ?? 'cdk.out');
}

/** Every stack template of the assembly, nested assemblies (stages) included. */
function stackTemplates(dir: string): { name: string; file: string }[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  return Object.entries(manifest.artifacts ?? {}).flatMap(([id, a]) => {
    if (a.type === 'aws:cloudformation:stack' && a.properties?.templateFile) {
      return [{ name: a.displayName ?? id, file: path.join(dir, a.properties.templateFile) }];
    }
    if (a.type === 'cdk:cloud-assembly' && a.properties?.directoryName) {
      return stackTemplates(path.join(dir, a.properties.directoryName));
    }
    return [];
  });
}

process.exitCode = main();
