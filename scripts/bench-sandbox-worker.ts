/**
 * The processes behind the sandbox sections of `npm run bench` (scripts/bench-sandbox.ts).
 * `node --import tsx scripts/bench-sandbox-worker.ts <mode>` prints one `BENCH-RESULT <json>`
 * line on stdout; diagnostics go to stderr.
 *
 *   start    one fresh process: startSandbox into a temp dir (first run), a restart on the
 *            same dir, a first run again with the modules loaded, then the synth alone with
 *            and without esbuild bundling. Every sandbox is closed.
 *   s3       a sandbox and a bare s3rver; one 4 KB object in alice's prefix (credentials
 *            from the local STS); GETs driven by a forked load generator.
 *   signin   a sandbox; full sign-ins through the app and the dev IdP, driven by a forked
 *            load generator.
 *   loadgen  forked by s3 / signin: closed-loop load in phases, each phase bounded in
 *            request count AND time, reported over IPC.
 *
 * Every server listens on 127.0.0.1. The load generator runs in its own process so its
 * client-side cost (SigV4 signing, TLS, HTML parsing) is measured apart from the servers'.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  HOPS,
  RESULT_PREFIX,
  S3_PHASES,
  SIGNIN_PHASES,
  type ClientPhase,
  type LoadJob,
  type LoadPhase,
  type LoadTarget,
  type PhaseReport,
  type S3LoadName,
  type S3Report,
  type SigninReport,
  type StartReport,
} from './bench-sandbox-protocol';

const OBJECT_BYTES = 4096;
/** s3rver's built-in account. */
const S3RVER_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const ms = (from: number): number => performance.now() - from;

// ---------------------------------------------------------------- start

async function startMode(): Promise<StartReport> {
  const bootS = process.uptime();
  const { startSandbox } = await import('../local/sandbox');
  const { AssetStaging } = await import('aws-cdk-lib');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bench-start-'));
  try {
    const timed = async (dataDir: string, reset: boolean) => {
      // In one process aws-cdk-lib caches bundled assets by hash; `npm start` is a fresh
      // process and always bundles, so every start here does too.
      AssetStaging.clearAssetHashCache();
      const t = performance.now();
      const sandbox = await startSandbox({ dataDir, ports: 'free', reset });
      return { sandbox, seconds: ms(t) / 1000 };
    };
    const dirA = path.join(root, 'a');
    const first = await timed(dirA, true);
    const readyUptimeS = process.uptime();
    let t = performance.now();
    await first.sandbox.close();
    const closeS = ms(t) / 1000;
    const restart = await timed(dirA, false);
    await restart.sandbox.close();
    const warm = await timed(path.join(root, 'b'), true);
    await warm.sandbox.close();
    t = performance.now();
    await synthLikeSandbox(path.join(root, 'synth'), true);
    const synthS = ms(t) / 1000;
    t = performance.now();
    await synthLikeSandbox(path.join(root, 'synth-no-bundling'), false);
    const synthNoBundlingS = ms(t) / 1000;
    return {
      bootS,
      readyUptimeS,
      firstColdS: first.seconds,
      closeS,
      restartS: restart.seconds,
      firstWarmS: warm.seconds,
      synthS,
      synthNoBundlingS,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The synth step of startSandbox (local/sandbox.ts), optionally without Lambda bundling. */
async function synthLikeSandbox(outdir: string, bundling: boolean): Promise<void> {
  const { App, AssetStaging } = await import('aws-cdk-lib');
  const { parseStageConfig } = await import('../lib/config');
  const { buildStage } = await import('../lib/stage');
  const { cdkFeatureFlags } = await import('../local/feature-flags');
  const { DEFAULT_PORTS, sandboxStageConfig } = await import('../local/sandbox-config');
  AssetStaging.clearAssetHashCache();
  const config = parseStageConfig('local', sandboxStageConfig(DEFAULT_PORTS), 'the sandbox stage');
  const app = new App({
    outdir,
    builtinCloudFormationValidation: false,
    context: {
      ...cdkFeatureFlags(),
      'aws:cdk:enable-asset-metadata': true,
      ...(bundling ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  buildStage(app, config);
  app.synth();
}

// ---------------------------------------------------------------- hosts

type SandboxModule = typeof import('../local/sandbox');
type Sandbox = Awaited<ReturnType<SandboxModule['startSandbox']>>;

const cleanups: (() => Promise<void> | void)[] = [];

async function withSandbox<T>(fn: (sandbox: Sandbox, root: string) => Promise<T>): Promise<T> {
  const { startSandbox } = await import('../local/sandbox');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bench-load-'));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const sandbox = await startSandbox({
    dataDir: path.join(root, 'sandbox'),
    ports: 'free',
    reset: true,
  });
  cleanups.push(() => sandbox.close());
  return fn(sandbox, root);
}

async function s3Mode(): Promise<S3Report> {
  const { STSClient, AssumeRoleWithWebIdentityCommand } = await import('@aws-sdk/client-sts');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const { Backend } = await import('../local/s3-backend');
  return withSandbox(async (sandbox, root) => {
    const ca = sandbox.tls.ca;
    const httpsAgent = new https.Agent({ ca, keepAlive: true });
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: sandbox.urls.sts,
      maxAttempts: 1,
      requestHandler: { httpsAgent },
    });
    const token = await sandbox.idp.mintToken('google', 'alice');
    const assumed = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: sandbox.roleArns.google,
        RoleSessionName: 'bench-alice',
        WebIdentityToken: token,
      }),
    );
    const credentials = {
      accessKeyId: assumed.Credentials!.AccessKeyId!,
      secretAccessKey: assumed.Credentials!.SecretAccessKey!,
      sessionToken: assumed.Credentials!.SessionToken!,
    };
    const bucket = sandbox.bucket;
    const key = `users/google/${assumed.SubjectFromWebIdentityToken}/bench-4k.bin`;
    const body = randomBytes(OBJECT_BYTES);
    const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
    const s3 = await s3Client(sandbox.urls.s3, credentials, ca, 4);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const presigned = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: 900,
    });

    // What the SDK costs the client per request without any network: building the
    // request through the middleware stack and SigV4-signing it.
    const presignOnce = () =>
      getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 900 });
    for (let i = 0; i < 50; i++) await presignOnce();
    const t = performance.now();
    let n = 0;
    while (n < 1000 && ms(t) < 1000) {
      await presignOnce();
      n++;
    }
    const presignMs = ms(t) / n;

    // The baseline: s3rver alone, started the way local/s3-backend.ts starts the
    // sandbox's own (which it does not expose), holding the same object.
    const backend = await Backend.start(path.join(root, 's3rver'), [bucket]);
    cleanups.push(() => backend.close());
    const objectPath = `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const put = await backend.request({
      method: 'PUT',
      path: objectPath,
      headers: { 'content-type': 'application/octet-stream', 'content-length': OBJECT_BYTES },
      body,
    });
    put.resume();
    if (put.statusCode !== 200) throw new Error(`s3rver PUT answered ${put.statusCode}`);
    const s3rverEndpoint = `http://127.0.0.1:${backend.port}`;

    const sdk = (endpoint: string, creds: typeof credentials | typeof S3RVER_KEYS): LoadTarget => ({
      kind: 'sdk',
      endpoint,
      bucket,
      key,
      credentials: creds,
      expectBytes: OBJECT_BYTES,
      ca,
    });
    const targets: Record<S3LoadName, LoadTarget> = {
      sdkLocal: sdk(sandbox.urls.s3, credentials),
      // s3rver looks the access key up in its one built-in account, and does not verify V4.
      sdkS3rver: sdk(s3rverEndpoint, S3RVER_KEYS),
      presignedLocal: { kind: 'url', url: presigned, expectBytes: OBJECT_BYTES, ca },
      plainS3rver: { kind: 'url', url: s3rverEndpoint + objectPath, expectBytes: OBJECT_BYTES, ca },
    };
    const loads = {} as Record<S3LoadName, Record<string, PhaseReport>>;
    for (const [name, target] of Object.entries(targets) as [S3LoadName, LoadTarget][]) {
      process.stderr.write(`bench: S3 load ${name}\n`);
      loads[name] = await runLoad(name, { target, phases: S3_PHASES, requestTimeoutMs: 10_000 });
    }
    return { objectBytes: OBJECT_BYTES, presignMs, loads };
  });
}

async function signinMode(): Promise<SigninReport> {
  return withSandbox(async (sandbox) => {
    const target: LoadTarget = {
      kind: 'signin',
      app: sandbox.urls.app,
      idp: sandbox.urls.idp,
      ca: sandbox.tls.ca,
    };
    return {
      phases: await runLoad('signin', { target, phases: SIGNIN_PHASES, requestTimeoutMs: 15_000 }),
    };
  });
}

/** Forks the load generator, runs `job`, and accounts the host's CPU per phase. */
function runLoad(label: string, job: LoadJob): Promise<Record<string, PhaseReport>> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(__filename, ['loadgen'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const kill = () => {
      if (child.exitCode === null) child.kill();
    };
    cleanups.push(kill);
    // Bounded: every phase's time, every request's timeout once, and the child's start.
    const budgetMs =
      job.phases.reduce((s, p) => s + p.maxMs, 0) +
      job.phases.length * job.requestTimeoutMs +
      30_000;
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`load generator exceeded ${budgetMs} ms`));
    }, budgetMs);
    const reports: Record<string, PhaseReport> = {};
    let mark: ReturnType<typeof snapshot> | undefined;
    let lambdaPid: number | undefined;
    let stopProfile: ((label: string) => void) | undefined;
    child.on('message', (m: LoadMessage) => {
      if (m.type === 'phase-start') {
        lambdaPid ??= childPid('lambda-runner');
        if (PROFILE_DIR && m.name === 'loaded') stopProfile = startProfile();
        mark = snapshot(lambdaPid);
      } else if (m.type === 'phase-end' && mark) {
        const now = snapshot(lambdaPid);
        if (stopProfile) stopProfile(label);
        stopProfile = undefined;
        reports[m.result.name] = {
          ...m.result,
          hostCpuMs: now.hostCpuMs - mark.hostCpuMs,
          lambdaCpuMs:
            now.lambdaCpuMs !== undefined && mark.lambdaCpuMs !== undefined
              ? now.lambdaCpuMs - mark.lambdaCpuMs
              : undefined,
          machineBusyMs: now.machine.busy - mark.machine.busy,
          machineCapacityMs: (now.at - mark.at) * os.cpus().length,
        };
      } else if (m.type === 'error') {
        clearTimeout(timer);
        kill();
        reject(new Error(`load generator: ${m.message}`));
      } else if (m.type === 'done') {
        clearTimeout(timer);
        kill();
        resolve(reports);
      }
    });
    child.once('error', (e) => (clearTimeout(timer), reject(e)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load generator exited with ${code}`));
    });
    child.send({ type: 'job', job });
  });
}

type LoadMessage =
  | { type: 'phase-start'; name: string }
  | { type: 'phase-end'; result: ClientPhase }
  | { type: 'error'; message: string }
  | { type: 'done' };

/**
 * BENCH_PROFILE_DIR=<dir>: writes a V8 CPU profile of the host for every `loaded` phase,
 * `<dir>/host-<load>.cpuprofile` (open in Chrome DevTools). Its samples are wall time:
 * while other processes hold the cpus, the shares it shows are approximate.
 */
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;

function startProfile(): (label: string) => void {
  // Loaded only when asked for.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const inspector = require('node:inspector') as typeof import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  return (label) =>
    session.post('Profiler.stop', (err, r) => {
      if (!err) {
        fs.mkdirSync(PROFILE_DIR!, { recursive: true });
        fs.writeFileSync(
          path.join(PROFILE_DIR!, `host-${label}.cpuprofile`),
          JSON.stringify(r.profile),
        );
      }
      session.disconnect();
    });
}

function snapshot(lambdaPid: number | undefined) {
  const cpu = process.cpuUsage();
  return {
    at: performance.now(),
    hostCpuMs: (cpu.user + cpu.system) / 1000,
    lambdaCpuMs: lambdaPid === undefined ? undefined : procCpuMs(lambdaPid),
    machine: machineTimes(),
  };
}

export function machineTimes(): { busy: number } {
  let busy = 0;
  for (const c of os.cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return { busy };
}

/** The pid of this process's child whose command line contains `needle` (Linux /proc). */
export function childPid(needle: string): number | undefined {
  if (!fs.existsSync('/proc')) return undefined;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** utime + stime of a process from /proc/<pid>/stat (clock ticks of 10 ms on Linux). */
export function procCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- load generator

// The SDK and the scripted browser are loaded only where used, so the `start` mode
// loads what `npm start` loads and nothing more.

async function s3Client(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  ca: string,
  sockets: number,
): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpsAgent: counted(new https.Agent({ ca, keepAlive: true, maxSockets: sockets })),
      httpAgent: counted(new http.Agent({ keepAlive: true, maxSockets: sockets })),
    },
  });
}

/** Connections opened by the load generator's agents (keep-alive should keep this small). */
const connections = { opened: 0 };

function counted<A extends http.Agent>(agent: A): A {
  const create = (agent as unknown as { createConnection: (...a: unknown[]) => unknown })
    .createConnection;
  Object.assign(agent, {
    createConnection: (...args: unknown[]) => {
      connections.opened++;
      return create.apply(agent, args);
    },
  });
  return agent;
}

/** A ScriptedBrowser that times every request it makes. */
async function timedBrowserClass() {
  const { ScriptedBrowser } = await import('../local/scripted-browser');
  return class TimedBrowser extends ScriptedBrowser {
    readonly timings: { url: string; ms: number }[] = [];

    override async request(
      url: string,
      init: { method?: string; body?: string; headers?: Record<string, string> } = {},
    ): Promise<{ status: number; headers: Headers; body: string }> {
      const t = performance.now();
      try {
        return await super.request(url, init);
      } finally {
        this.timings.push({ url, ms: ms(t) });
      }
    }
  };
}

type Once = (n: number) => Promise<Record<string, number> | void>;

async function operation(job: LoadJob): Promise<Once> {
  const target = job.target;
  const sockets = Math.max(...job.phases.map((p) => p.concurrency));
  switch (target.kind) {
    case 'sdk': {
      const { GetObjectCommand } = await import('@aws-sdk/client-s3');
      const client = await s3Client(target.endpoint, target.credentials, target.ca, sockets);
      return async () => {
        const out = await client.send(
          new GetObjectCommand({ Bucket: target.bucket, Key: target.key }),
          { abortSignal: AbortSignal.timeout(job.requestTimeoutMs) },
        );
        const bytes = await out.Body!.transformToByteArray();
        if (bytes.length !== target.expectBytes) throw new Error(`got ${bytes.length} bytes`);
      };
    }
    case 'url': {
      const secure = target.url.startsWith('https:');
      const agent = secure
        ? counted(new https.Agent({ ca: target.ca, keepAlive: true, maxSockets: sockets }))
        : counted(new http.Agent({ keepAlive: true, maxSockets: sockets }));
      return () =>
        new Promise<void>((resolve, reject) => {
          const req = (secure ? https : http).get(target.url, { agent }, (res) => {
            let size = 0;
            res.on('data', (c: Buffer) => (size += c.length));
            res.on('error', reject);
            res.on('end', () =>
              res.statusCode === 200 && size === target.expectBytes
                ? resolve()
                : reject(new Error(`status ${res.statusCode}, ${size} bytes`)),
            );
          });
          req.setTimeout(job.requestTimeoutMs, () => req.destroy(new Error('request timeout')));
          req.on('error', reject);
        });
    }
    case 'signin': {
      const TimedBrowser = await timedBrowserClass();
      return async (n) => {
        // A fresh browser per sign-in: new cookie jar, new TLS connections.
        const browser = new TimedBrowser(target.ca);
        const login = await browser.go(`${target.app}/login/google`);
        if (login.status !== 200 || !login.url.startsWith(target.idp)) {
          throw new Error(`login ended at ${login.url} (${login.status})`);
        }
        const page = await browser.submit(login, { user: `bench-user-${n}` });
        if (
          page.url !== `${target.app}/` ||
          page.status !== 200 ||
          !/Signed in with/.test(page.body)
        ) {
          throw new Error(`sign-in ended at ${page.url} (${page.status})`);
        }
        const hops: Record<string, number> = {};
        for (const { url, ms: took } of browser.timings) {
          const kind = hopKind(url, target);
          hops[kind] = (hops[kind] ?? 0) + took;
        }
        return hops;
      };
    }
  }
}

function hopKind(url: string, target: { app: string; idp: string }): string {
  if (url.startsWith(target.idp)) return HOPS.idp;
  const p = new URL(url).pathname;
  if (p.startsWith('/login/')) return HOPS.login;
  if (p.startsWith('/oauth2callback/')) return HOPS.callback;
  if (p === '/') return HOPS.files;
  return HOPS.other;
}

function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function runPhase(
  phase: LoadPhase,
  once: Once,
  counter: { n: number },
): Promise<ClientPhase> {
  const latencies: number[] = [];
  const hopSamples: Record<string, number[]> = {};
  let started = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const opened0 = connections.opened;
  const t0 = performance.now();
  const deadline = t0 + phase.maxMs;
  const worker = async () => {
    while (started < phase.maxRequests && performance.now() < deadline) {
      started++;
      const t = performance.now();
      try {
        const hops = await once(counter.n++);
        latencies.push(ms(t));
        if (hops) for (const [k, v] of Object.entries(hops)) (hopSamples[k] ??= []).push(v);
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: phase.concurrency }, worker));
  const wallMs = ms(t0);
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const hopsMs: Record<string, number> = {};
  for (const [k, v] of Object.entries(hopSamples)) {
    v.sort((a, b) => a - b);
    hopsMs[k] = percentile(v, 0.5);
  }
  return {
    name: phase.name,
    concurrency: phase.concurrency,
    completed: latencies.length,
    errors,
    firstError,
    wallMs,
    perSecond: latencies.length / (wallMs / 1000),
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
      max: latencies[latencies.length - 1] ?? NaN,
    },
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    connectionsOpened: connections.opened - opened0,
    hopsMs: Object.keys(hopsMs).length > 0 ? hopsMs : undefined,
  };
}

function loadgenMode(): void {
  // Never outlive the host.
  process.on('disconnect', () => process.exit(1));
  process.once('message', (m: { type: 'job'; job: LoadJob }) => {
    const send = (msg: LoadMessage) => process.send!(msg);
    (async () => {
      const once = await operation(m.job);
      const counter = { n: 0 };
      for (const phase of m.job.phases) {
        send({ type: 'phase-start', name: phase.name });
        const result = await runPhase(phase, once, counter);
        send({ type: 'phase-end', result });
        if (result.errors > 0) {
          throw new Error(
            `${result.errors} of ${result.errors + result.completed} requests failed in phase ${phase.name}: ${result.firstError}`,
          );
        }
      }
      send({ type: 'done' });
    })().catch((e: Error) => send({ type: 'error', message: e.message }));
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === 'loadgen') return loadgenMode();
  const modes: Record<string, () => Promise<unknown>> = {
    start: startMode,
    s3: s3Mode,
    signin: signinMode,
  };
  const run = modes[mode];
  if (!run) throw new Error(`mode must be one of ${Object.keys(modes).join(', ')}, loadgen`);
  const stop = () => void cleanup().finally(() => process.exit(1));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const result = await run();
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  } finally {
    await cleanup();
  }
  // Keep-alive sockets and the like must not hold the process open.
  process.exit(0);
}

async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    void cleanup().finally(() => process.exit(1));
  });
}
