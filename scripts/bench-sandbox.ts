/**
 * Bench sections for the sandbox (local/sandbox.ts): how long it takes to start, how many
 * authorized 4 KB GETs per second the local S3 serves (against s3rver alone as the
 * baseline, measured in the same run), and how many full sign-ins per second the app,
 * the dev IdP, the local STS and S3 complete together.
 *
 * The work runs in scripts/bench-sandbox-worker.ts processes: a host process running the
 * sandbox, and a forked load generator, so client and server costs are measured apart.
 * Every load is bounded in request count and time; every server is on 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { BenchOptions, BenchRow, BenchSection, Stats } from './bench-lib';
import { median } from './bench-lib';
import {
  HOPS,
  RESULT_PREFIX,
  S3_PHASES,
  SIGNIN_PHASES,
  type LoadPhase,
  type PhaseReport,
  type S3LoadName,
  type S3Report,
  type SigninReport,
  type StartReport,
} from './bench-sandbox-protocol';

/** Fresh sandbox starts measured (at most; `--runs` caps it), after one warm-up. */
const START_RUNS = 3;
const TARGET_S3_PER_SECOND = 300;
const TARGET_S3_LATENCY_RATIO = 3;

const CPUS = os.cpus().length;
const S3_CLIENTS = phase(S3_PHASES, 'loaded').concurrency;
const SIGNIN_USERS = phase(SIGNIN_PHASES, 'loaded').concurrency;

const NOISE =
  `  note: ${CPUS} cpus shared by the load generator, the servers and whatever else runs on the machine ` +
  '(see "other processes"); one bounded run: compare the ratios, not absolute numbers';

function phase(phases: readonly LoadPhase[], name: string): LoadPhase {
  return phases.find((p) => p.name === name)!;
}

function phaseText(p: LoadPhase, unit = 'requests'): string {
  const who = p.concurrency === 1 ? '1 client' : `${p.concurrency} concurrent clients`;
  return `${who}, <= ${p.maxRequests} ${unit} / ${p.maxMs / 1000} s`;
}

/**
 * Runs the worker in `mode` in a fresh process and returns its result. `script` is another
 * worker (scripts/bench-load-worker.ts), `args` its further arguments, `timeoutMs` a longer
 * limit than `--timeout` for a run known to be longer.
 */
export function runWorker<T>(
  opts: BenchOptions,
  mode: string,
  worker: { script?: string; args?: readonly string[]; timeoutMs?: number } = {},
): T {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      worker.script ?? 'scripts/bench-sandbox-worker.ts',
      mode,
      ...(worker.args ?? []),
    ],
    {
      cwd: opts.cwd,
      encoding: 'utf8',
      timeout: Math.max(opts.timeoutMs, worker.timeoutMs ?? 0),
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (r.error || r.status !== 0 || !line) {
    const why = r.error?.message ?? (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`);
    // Without the AWS SDK's multi-line Node version notice, printed by every process.
    const tail = String(r.stderr ?? '')
      .replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?trace-warnings.*$/gm, '')
      .trim()
      .split('\n')
      .slice(-15)
      .join('\n');
    throw new Error(`${worker.script ?? 'bench-sandbox-worker'} ${mode} failed (${why}):\n${tail}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
}

function statsOf(samples: readonly number[]): Stats {
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples,
  };
}

const f1 = (x: number): string => x.toFixed(1);
const pct = (x: number): string => `${(100 * x).toFixed(0)} %`;
const ratio = (x: number): string => `${x.toFixed(2)}x`;

/**
 * Throughput each process could reach alone on one cpu at the CPU per request measured,
 * then all of them together on the machine's cpus: the lowest is what bounds the run.
 */
function ceilings(cpuMs: readonly number[], completed: number, unit: string): string {
  const per = cpuMs.map((c) => c / completed);
  const alone = per.map((p) => (p > 0 ? (1000 / p).toFixed(0) : '-'));
  const together = (CPUS * 1000) / per.reduce((a, b) => a + b, 0);
  return `${[...alone, together.toFixed(0)].join(' / ')} ${unit}`;
}

const startSection: BenchSection = {
  title:
    "sandbox start: startSandbox({ dataDir: <temp>, ports: 'free', reset: true }) then close(), " +
    'each sample a fresh process (node --import tsx)',
  run(opts): BenchRow[] {
    const runs = Math.max(1, Math.min(START_RUNS, opts.runs));
    process.stderr.write(`bench: sandbox start: 1 warm-up + ${runs} fresh processes\n`);
    runWorker<StartReport>(opts, 'start');
    const samples = Array.from({ length: runs }, () => runWorker<StartReport>(opts, 'start'));
    const s = (fn: (r: StartReport) => number) => statsOf(samples.map(fn));
    const bundling = median(samples.map((r) => r.synthS - r.synthNoBundlingS));
    const servers = median(samples.map((r) => r.firstWarmS - r.synthS));
    return [
      {
        name: 'fresh process to sandbox ready (the npm start experience)',
        stats: s((r) => r.readyUptimeS),
      },
      { name: 'of which node + tsx start', stats: s((r) => r.bootS) },
      {
        name: "of which loading the sandbox's modules",
        stats: s((r) => r.readyUptimeS - r.bootS - r.firstColdS),
      },
      { name: 'of which startSandbox(), first call in the process', stats: s((r) => r.firstColdS) },
      { name: 'startSandbox() again, same process, new data dir', stats: s((r) => r.firstWarmS) },
      {
        name: 'restart on the same data dir (reset: false), same process',
        stats: s((r) => r.restartS),
      },
      { name: 'synth like startSandbox, esbuild bundling included', stats: s((r) => r.synthS) },
      { name: 'of which esbuild bundling of the Lambda', value: `${bundling.toFixed(2)} s` },
      {
        name: 'servers + TLS + policy model (new data dir - synth)',
        value: `${servers.toFixed(2)} s`,
      },
      { name: 'close()', stats: s((r) => r.closeS) },
    ];
  },
};

const S3_LOADS: Record<S3LoadName, { label: string; target: boolean }> = {
  sdkLocal: { label: 'A  SDK GetObject (SigV4 headers) -> local S3, HTTPS', target: true },
  sdkS3rver: { label: 'B  SDK GetObject -> s3rver alone, HTTP (its own key)', target: false },
  presignedLocal: { label: 'C  presigned URL, plain https GET -> local S3', target: true },
  plainS3rver: { label: 'D  unsigned plain http GET -> s3rver alone', target: false },
};

/** CPU (ms) the machine spent outside our processes, as a share of its capacity. */
function otherShare(reports: readonly PhaseReport[]): number {
  let other = 0;
  let capacity = 0;
  for (const r of reports) {
    other += Math.max(0, r.machineBusyMs - r.hostCpuMs - r.clientCpuMs - (r.lambdaCpuMs ?? 0));
    capacity += r.machineCapacityMs;
  }
  return other / capacity;
}

const s3Section: BenchSection = {
  title:
    "sandbox S3: GETs of one 4 KB object in alice's prefix (google, credentials from the local STS); " +
    `closed loop after a warm-up: ${phaseText(phase(S3_PHASES, 'loaded'))}, then ${phaseText(phase(S3_PHASES, 'single'))}; ` +
    'load generator in its own process, keep-alive agents\n' +
    NOISE,
  run(opts): BenchRow[] {
    process.stderr.write('bench: local S3 GETs: sandbox + s3rver + 4 loads\n');
    const r = runWorker<S3Report>(opts, 's3');
    const loaded = (n: S3LoadName) => r.loads[n].loaded;
    const single = (n: S3LoadName) => r.loads[n].single;
    const rows: BenchRow[] = [];
    for (const [name, { label, target }] of Object.entries(S3_LOADS) as [
      S3LoadName,
      (typeof S3_LOADS)[S3LoadName],
    ][]) {
      const l = loaded(name);
      rows.push(
        {
          name: `${label}, ${S3_CLIENTS} clients`,
          value: `${l.perSecond.toFixed(0)} req/s`,
          target: target
            ? {
                text: `>= ${TARGET_S3_PER_SECOND} req/s`,
                ok: l.perSecond >= TARGET_S3_PER_SECOND,
              }
            : undefined,
        },
        {
          name: `   latency median / p95, ${S3_CLIENTS} clients`,
          value: `${f1(l.latencyMs.p50)} / ${f1(l.latencyMs.p95)} ms`,
        },
        {
          name: '   latency median / p95, 1 client',
          value: `${f1(single(name).latencyMs.p50)} / ${f1(single(name).latencyMs.p95)} ms`,
        },
        {
          name: `   CPU per request, ${S3_CLIENTS} clients: servers / load generator`,
          value: `${(l.hostCpuMs / l.completed).toFixed(2)} / ${(l.clientCpuMs / l.completed).toFixed(2)} ms`,
        },
        {
          // Each is one Node event loop; together they share the machine's cpus.
          name: `   ceiling from that CPU: servers on 1 cpu / load generator on 1 cpu / both on ${CPUS}`,
          value: ceilings([l.hostCpuMs, l.clientCpuMs], l.completed, 'req/s'),
        },
      );
    }
    const latencyRatio = (a: S3LoadName, b: S3LoadName, which: 'loaded' | 'single') =>
      r.loads[a][which].latencyMs.p50 / r.loads[b][which].latencyMs.p50;
    const serverCpu = (n: S3LoadName) => loaded(n).hostCpuMs / loaded(n).completed;
    for (const [a, b, why] of [
      ['sdkLocal', 'sdkS3rver', 'A / B (same SDK client)'],
      ['presignedLocal', 'plainS3rver', 'C / D (same raw client, no client signing)'],
    ] as const) {
      const one = latencyRatio(a, b, 'single');
      rows.push(
        {
          name: `latency ratio local S3 / s3rver, ${why}, 1 client`,
          value: ratio(one),
          target: { text: `<= ${TARGET_S3_LATENCY_RATIO}x`, ok: one <= TARGET_S3_LATENCY_RATIO },
        },
        {
          name: `latency ratio local S3 / s3rver, ${why}, ${S3_CLIENTS} clients`,
          value: ratio(latencyRatio(a, b, 'loaded')),
        },
      );
    }
    rows.push(
      {
        name: 'server CPU per GET added by the local S3 (TLS, SigV4, IAM, relay): A-B / C-D',
        value: `${(serverCpu('sdkLocal') - serverCpu('sdkS3rver')).toFixed(2)} / ${(serverCpu('presignedLocal') - serverCpu('plainS3rver')).toFixed(2)} ms`,
      },
      {
        name: 'client: SDK request build + SigV4 signing alone (getSignedUrl, no network)',
        value: `${r.presignMs.toFixed(2)} ms`,
      },
      {
        name: `other processes during the ${S3_CLIENTS}-client phases (share of ${CPUS} cpus)`,
        value: pct(otherShare(Object.values(r.loads).map((l) => l.loaded))),
      },
    );
    return rows;
  },
};

const signinSection: BenchSection = {
  title:
    'sandbox sign-in round trips: a fresh ScriptedBrowser per sign-in: GET /login/google -> dev IdP form -> ' +
    'callback (code exchange at the IdP, STS AssumeRoleWithWebIdentity) -> files page (one S3 list); ' +
    `after a warm-up: ${phaseText(phase(SIGNIN_PHASES, 'single'), 'sign-ins')}, then ${phaseText(phase(SIGNIN_PHASES, 'loaded'), 'sign-ins')}\n` +
    NOISE,
  run(opts): BenchRow[] {
    process.stderr.write('bench: sign-ins: sandbox + 3 phases\n');
    const { phases } = runWorker<SigninReport>(opts, 'signin');
    const loaded = phases.loaded;
    const single = phases.single;
    const hops = (p: PhaseReport) =>
      [HOPS.login, HOPS.idp, HOPS.callback, HOPS.files]
        .map((h) => (p.hopsMs?.[h] ?? 0).toFixed(0))
        .join(' / ') + ' ms';
    const perSignIn = (ms: number | undefined, p: PhaseReport) =>
      ms === undefined ? 'n/a' : (ms / p.completed).toFixed(1);
    return [
      {
        name: `sign-ins per second, ${SIGNIN_USERS} concurrent users`,
        value: `${f1(loaded.perSecond)} /s`,
      },
      {
        name: `latency per sign-in median / p95, ${SIGNIN_USERS} concurrent`,
        value: `${loaded.latencyMs.p50.toFixed(0)} / ${loaded.latencyMs.p95.toFixed(0)} ms`,
      },
      {
        name: 'latency per sign-in median / p95, 1 user',
        value: `${single.latencyMs.p50.toFixed(0)} / ${single.latencyMs.p95.toFixed(0)} ms`,
      },
      {
        name: `by hop, 1 user: ${HOPS.login} / ${HOPS.idp} / ${HOPS.callback} / ${HOPS.files}`,
        value: hops(single),
      },
      { name: `by hop, ${SIGNIN_USERS} concurrent (same order)`, value: hops(loaded) },
      {
        name: `CPU per sign-in, ${SIGNIN_USERS} concurrent: host (IdP, STS, S3, API) / Lambda / load generator`,
        value: `${perSignIn(loaded.hostCpuMs, loaded)} / ${perSignIn(loaded.lambdaCpuMs, loaded)} / ${perSignIn(loaded.clientCpuMs, loaded)} ms`,
      },
      {
        name: `ceiling from that CPU: host on 1 cpu / Lambda on 1 / generator on 1 / all on ${CPUS}`,
        value: ceilings(
          [loaded.hostCpuMs, loaded.lambdaCpuMs ?? 0, loaded.clientCpuMs],
          loaded.completed,
          '/s',
        ),
      },
      {
        name: `other processes during the ${SIGNIN_USERS}-user phase (share of ${CPUS} cpus)`,
        value: pct(otherShare([loaded])),
      },
    ];
  },
};

export function sandboxSections(): BenchSection[] {
  return [startSection, s3Section, signinSection];
}
