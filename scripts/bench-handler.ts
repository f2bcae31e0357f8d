/**
 * Bench sections for the callback Lambda: bundle size, cold start (fresh Node process
 * loading the bundle that `cdk deploy` would upload and serving its first request), and
 * warm handler time per signed-in page view (the core with in-memory ports: no network).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BenchOptions, BenchRow, BenchSection } from './bench-lib';
import { APP_CONFIG_FOR_BENCH, medianOf } from './bench-lib';

const TARGET_BUNDLE_KB = 250;
const TARGET_COLD_MS = 150;
const TARGET_WARM_MS = 5;

/** Synthesizes the example stage once and returns the callback function's bundle file. */
export function synthesizedBundle(opts: BenchOptions, outdir: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: opts.cwd,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ stage: 'example', 'aws:cdk:enable-asset-metadata': true }),
      CDK_VALIDATION: 'false',
    },
    encoding: 'utf8',
    timeout: opts.timeoutMs,
  });
  if (r.status !== 0) throw new Error(`synth failed: ${r.stderr}`);
  for (const file of fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(fs.readFileSync(path.join(outdir, file), 'utf8'));
    for (const res of Object.values<{ Type: string; Metadata?: Record<string, string> }>(
      template.Resources ?? {},
    )) {
      const asset = res.Metadata?.['aws:asset:path'];
      if (res.Type === 'AWS::Lambda::Function' && asset) {
        const bundle = path.join(outdir, asset, 'index.js');
        if (fs.existsSync(bundle)) return bundle;
      }
    }
  }
  throw new Error('no Lambda function bundle (index.js) in the cloud assembly');
}

/** Run in a fresh process: load the bundle, serve GET / once, print the milliseconds. */
const COLD_START_SCRIPT = `
const t0 = process.hrtime.bigint();
const { handler } = require(process.env.BUNDLE);
handler({
  version: '2.0', rawPath: '/', rawQueryString: '', headers: { host: 'files.example.com' }, cookies: [],
  requestContext: { http: { method: 'GET', path: '/' }, requestId: 'bench' }, isBase64Encoded: false,
}).then((res) => {
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.statusCode !== 200) { console.error('status ' + res.statusCode + ' ' + res.body.slice(0, 300)); process.exit(1); }
  process.stdout.write(String(ms));
});
`;

export function handlerSections(bundleOf: () => string): BenchSection[] {
  return [
    {
      title: 'callback Lambda bundle (from the cloud assembly cdk deploy uploads)',
      run(): BenchRow[] {
        const bundle = bundleOf();
        const bytes = fs.statSync(bundle).size;
        const kb = bytes / 1024;
        return [
          {
            name: 'index.js minified (AWS SDK v3 from the runtime)',
            value: `${kb.toFixed(0)} KB`,
            target: { text: `<= ${TARGET_BUNDLE_KB} KB`, ok: kb <= TARGET_BUNDLE_KB },
          },
          {
            name: 'index.js gzipped',
            value: `${(gzipSync(fs.readFileSync(bundle)).length / 1024).toFixed(0)} KB`,
          },
        ];
      },
    },
    {
      title: 'cold start: fresh node process, require(bundle) + first GET / (signed out)',
      run(opts): BenchRow[] {
        const bundle = bundleOf();
        process.stderr.write(`bench: cold start: 1 warm-up + ${opts.runs} runs\n`);
        const stats = medianOf(opts.runs, () => {
          const r = spawnSync(process.execPath, ['-e', COLD_START_SCRIPT], {
            env: {
              ...process.env,
              BUNDLE: bundle,
              // The Lambda runtime provides the AWS SDK v3; here the project's copy does.
              NODE_PATH: path.join(opts.cwd, 'node_modules'),
              APP_CONFIG: JSON.stringify(APP_CONFIG_FOR_BENCH),
              APP_SECRETS: JSON.stringify({ 'cookie-key': 'c'.repeat(48) }),
            },
            encoding: 'utf8',
            timeout: opts.timeoutMs,
          });
          if (r.status !== 0) throw new Error(`cold start run failed: ${r.stderr}`);
          return Number(r.stdout) / 1000;
        });
        const ms = stats.median * 1000;
        return [
          {
            name: 'require + first request',
            stats,
            target: { text: `<= ${TARGET_COLD_MS} ms`, ok: ms <= TARGET_COLD_MS },
          },
        ];
      },
    },
    {
      title:
        'warm page view, signed in (core + real cookie crypto + views, in-memory S3 of 20 files)',
      run(opts): BenchRow[] {
        const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-warm.ts'], {
          cwd: opts.cwd,
          encoding: 'utf8',
          timeout: opts.timeoutMs,
        });
        if (r.status !== 0) throw new Error(`warm run failed: ${r.stderr}`);
        const { median, min, max, samples } = JSON.parse(r.stdout) as {
          median: number;
          min: number;
          max: number;
          samples: number;
        };
        return [
          {
            name: `GET / with session cookie (median of ${samples} requests)`,
            value: `${median.toFixed(3)} ms (min ${min.toFixed(3)}, max ${max.toFixed(1)})`,
            target: { text: `<= ${TARGET_WARM_MS} ms`, ok: median <= TARGET_WARM_MS },
          },
        ];
      },
    },
  ];
}
