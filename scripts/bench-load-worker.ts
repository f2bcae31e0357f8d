/**
 * The processes behind the load and integrity section of `npm run bench`
 * (scripts/bench-load.ts). `node --import tsx scripts/bench-load-worker.ts host` starts a
 * sandbox, forks itself as the load generator (`generator`), and prints one
 * `BENCH-RESULT <json>` line on stdout; diagnostics go to stderr.
 *
 * The generator works in three bursts, each bounded in count and time:
 *   sign-in    every user signs in at once through the app and the dev IdP, round-robin
 *              over the provider families;
 *   upload     every upload starts at once: /upload-url, then the presigned PUT (or the
 *              parts and /upload-complete), each body random with its SHA-256 kept;
 *   read-back  every acknowledged object is downloaded through /download and compared,
 *              and every user's files page must list all of theirs.
 * Every status the clients see is counted; a 503 with Retry-After is waited out and the
 * step retried (bounded), anything else outside 2xx and redirects is an error.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ScriptedBrowser } from '../local/scripted-browser';
import {
  RESULT_PREFIX,
  type IntegrityBurst,
  type IntegrityBurstReport,
  type IntegrityJob,
  type IntegrityReport,
  type Percentiles,
} from './bench-sandbox-protocol';
import { childPid, machineTimes, procCpuMs } from './bench-sandbox-worker';

const ms = (from: number): number => performance.now() - from;
const sleep = (t: number) => new Promise<void>((r) => setTimeout(r, t));

// ---------------------------------------------------------------- host

/** What the host adds to the generator's report. */
type HostFields = 'bursts' | 'serverErrors' | 'listenOverflows';

type HostMessage =
  | { type: 'burst-start' }
  | { type: 'burst-end'; burst: IntegrityBurst }
  | { type: 'done'; report: Omit<IntegrityReport, HostFields> }
  | { type: 'error'; message: string };

async function hostMode(job: Omit<IntegrityJob, 'app' | 'idp' | 'ca'>): Promise<IntegrityReport> {
  const { startSandbox } = await import('../local/sandbox');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bench-integrity-'));
  // What the sandbox logs about its own 5xx answers: the servers' side of a failure.
  const serverErrors: Record<string, number> = {};
  const sandbox = await startSandbox({
    dataDir: path.join(root, 'sandbox'),
    ports: 'free',
    reset: true,
    log: (entry) => {
      if (typeof entry.status !== 'number' || entry.status < 500) return;
      const what = [
        entry.operation ?? entry.path,
        entry.status,
        entry.code,
        entry.reason ?? entry.error,
      ]
        .filter((x) => x !== undefined)
        .join(' ');
      serverErrors[what] = (serverErrors[what] ?? 0) + 1;
    },
  });
  let child: ChildProcess | undefined;
  // The bench kills this process when it runs over its limit: the sandbox goes with it.
  const stop = () => {
    child?.kill();
    void sandbox.close().finally(() => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const full: IntegrityJob = {
      ...job,
      app: sandbox.urls.app,
      idp: sandbox.urls.idp,
      ca: sandbox.tls.ca,
    };
    return await new Promise<IntegrityReport>((resolve, reject) => {
      child = fork(__filename, ['generator'], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      // Bounded: each burst's time, two request timeouts per burst, the child's start.
      const budgetMs =
        job.maxMs.signIn +
        job.maxMs.upload +
        job.maxMs.readBack +
        6 * job.requestTimeoutMs +
        30_000;
      const timer = setTimeout(
        () => reject(new Error(`load generator exceeded ${budgetMs} ms`)),
        budgetMs,
      );
      const bursts: Partial<Record<IntegrityBurst['name'], IntegrityBurstReport>> = {};
      const lambdaPid = childPid('lambda-runner');
      const overflows0 = listenOverflows();
      let mark: ReturnType<typeof snapshot> | undefined;
      child.on('message', (m: HostMessage) => {
        if (m.type === 'burst-start') mark = snapshot(lambdaPid);
        else if (m.type === 'burst-end' && mark) {
          const now = snapshot(lambdaPid);
          bursts[m.burst.name] = {
            ...m.burst,
            hostCpuMs: now.hostCpuMs - mark.hostCpuMs,
            lambdaCpuMs:
              now.lambdaCpuMs !== undefined && mark.lambdaCpuMs !== undefined
                ? now.lambdaCpuMs - mark.lambdaCpuMs
                : undefined,
            machineBusyMs: now.busy - mark.busy,
            machineCapacityMs: (now.at - mark.at) * os.cpus().length,
          };
        } else if (m.type === 'done') {
          clearTimeout(timer);
          const overflows = listenOverflows();
          resolve({
            ...m.report,
            bursts: bursts as IntegrityReport['bursts'],
            serverErrors,
            listenOverflows:
              overflows !== undefined && overflows0 !== undefined
                ? overflows - overflows0
                : undefined,
          });
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`load generator: ${m.message}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`load generator exited with ${code}`));
      });
      child.send(full);
    });
  } finally {
    if (child && child.exitCode === null) child.kill();
    await sandbox.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The machine's TCP listen queue overflows so far (Linux /proc/net/netstat), if readable. */
function listenOverflows(): number | undefined {
  try {
    const [names, values] = fs
      .readFileSync('/proc/net/netstat', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('TcpExt:'))
      .map((l) => l.split(/\s+/));
    const i = names.indexOf('ListenOverflows');
    return i < 0 ? undefined : Number(values[i]);
  } catch {
    return undefined;
  }
}

function snapshot(lambdaPid: number | undefined) {
  const cpu = process.cpuUsage();
  return {
    at: performance.now(),
    hostCpuMs: (cpu.user + cpu.system) / 1000,
    lambdaCpuMs: lambdaPid === undefined ? undefined : procCpuMs(lambdaPid),
    busy: machineTimes().busy,
  };
}

// ---------------------------------------------------------------- generator

/** Every status seen, and which ones the run may not accept. */
class Statuses {
  readonly counts: Record<string, number> = {};
  unexpected = 0;
  firstUnexpected: string | undefined;
  retried = 0;
  /** Requests sent again after their connection closed before any answer, by error. */
  readonly resent: Record<string, number> = {};

  resend(where: string, e: unknown): void {
    const kind = `${where} ${errorKind(e)}`;
    this.resent[kind] = (this.resent[kind] ?? 0) + 1;
  }

  /** Counts a response; true when it is a 503 the client should wait out and retry. */
  record(where: string, status: number, retryAfter: string | null, redirectOk: boolean): boolean {
    const waitable = status === 503 && retryAfter !== null && Number(retryAfter) >= 0;
    const key = waitable ? '503+Retry-After' : String(status);
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    const fine = (status >= 200 && status < 300) || (redirectOk && status >= 300 && status < 400);
    if (!fine && !waitable) {
      this.unexpected++;
      this.firstUnexpected ??= `${status} from ${where}`;
    }
    return waitable;
  }
}

/** Why an operation stopped (shown once per burst). */
class StepError extends Error {}

function within<T>(timeoutMs: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_r, reject) => {
      timer = setTimeout(
        () => reject(new StepError(`${what}: no answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
    }),
  ]);
}

function percentiles(samples: readonly number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

interface User {
  readonly provider: string;
  readonly browser: ScriptedBrowser;
  csrf: string;
}

interface Upload {
  readonly user: number;
  readonly name: string;
  readonly multipart: boolean;
  size: number;
  sha256?: string;
  acknowledged: boolean;
}

async function generate(job: IntegrityJob): Promise<Omit<IntegrityReport, HostFields>> {
  const { ScriptedBrowser, decodeEntities } = await import('../local/scripted-browser');
  const statuses = new Statuses();
  const send = (m: HostMessage) => process.send!(m);
  const agent = new https.Agent({ ca: job.ca, keepAlive: true, maxSockets: job.uploads + 64 });
  const latency = {
    signIn: [] as number[],
    uploadUrl: [] as number[],
    singlePut: [] as number[],
    multipart: [] as number[],
    readBack: [] as number[],
  };

  /** A browser whose every response is counted; resends once like a browser (RESENDABLE). */
  class CountingBrowser extends ScriptedBrowser {
    override async request(
      url: string,
      init: { method?: string; body?: string; headers?: Record<string, string> } = {},
    ): Promise<{ status: number; headers: Headers; body: string }> {
      const what = `${init.method ?? 'GET'} ${pathOf(url)}`;
      let res;
      try {
        res = await within(job.requestTimeoutMs, what, super.request(url, init));
      } catch (e) {
        if (!resendable(e)) throw e;
        statuses.resend(`${init.method ?? 'GET'} app`, e);
        res = await within(job.requestTimeoutMs, what, super.request(url, init));
      }
      statuses.record(what, res.status, res.headers.get('retry-after'), true);
      return res;
    }
  }

  /** Runs `step` again after a 503 with Retry-After, while retries and time are left. */
  async function retrying<R extends { status: number; retryAfter: string | null }>(
    deadline: number,
    step: () => Promise<R>,
  ): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const r = await step();
      const waitable = r.status === 503 && r.retryAfter !== null;
      if (!waitable || attempt >= job.maxRetries) return r;
      const wait = Math.min(job.maxRetryAfterS, Number(r.retryAfter) || 1) * 1000;
      if (performance.now() + wait >= deadline) return r;
      statuses.retried++;
      await sleep(wait);
    }
  }

  /**
   * One S3 request with a presigned URL; counted. Resent once when a reused keep-alive
   * connection closes before any answer, as browsers do.
   */
  function s3(
    url: string,
    method: 'PUT' | 'GET',
    body?: Buffer,
    headers: Record<string, string> = {},
    resent = false,
  ): Promise<{ status: number; retryAfter: string | null; etag?: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = https.request(url, { method, headers, agent }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const retryAfter = (res.headers['retry-after'] as string | undefined) ?? null;
          statuses.record(`${method} S3`, res.statusCode ?? 0, retryAfter, false);
          resolve({
            status: res.statusCode ?? 0,
            retryAfter,
            etag: res.headers.etag,
            body: Buffer.concat(chunks),
          });
        });
      });
      req.setTimeout(job.requestTimeoutMs, () =>
        req.destroy(new StepError(`${method} S3: no answer in ${job.requestTimeoutMs} ms`)),
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (!resent && !answered && req.reusedSocket && resendable(e)) {
          statuses.resend(`${method} S3 (reused connection)`, e);
          s3(url, method, body, headers, true).then(resolve, reject);
        } else reject(e);
      });
      req.end(body);
    });
  }

  /** Runs `count` operations at once; bounded by the burst's time (each checks the deadline). */
  async function burst(
    name: IntegrityBurst['name'],
    count: number,
    maxMs: number,
    concurrency: number,
    op: (i: number, deadline: number) => Promise<boolean>,
  ): Promise<void> {
    send({ type: 'burst-start' });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + maxMs;
    let next = 0;
    let succeeded = 0;
    let firstError: string | undefined;
    const errors: Record<string, number> = {};
    const worker = async () => {
      while (next < count && performance.now() < deadline) {
        const i = next++;
        try {
          if (await op(i, deadline)) succeeded++;
        } catch (e) {
          const kind = errorKind(e);
          errors[kind] = (errors[kind] ?? 0) + 1;
          firstError ??= `${(e as Error).message}${kind !== (e as Error).message ? ` (${kind})` : ''}`;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    const cpu = process.cpuUsage(cpu0);
    send({
      type: 'burst-end',
      burst: {
        name,
        attempted: Math.min(next, count),
        succeeded,
        wallMs: ms(t0),
        firstError,
        errors,
        clientCpuMs: (cpu.user + cpu.system) / 1000,
      },
    });
  }

  // ---- sign-in: everyone at once, a fresh browser (cookie jar, connections) each.
  const users: (User | undefined)[] = new Array(job.signIns);
  await burst('sign-in', job.signIns, job.maxMs.signIn, job.signIns, async (i, deadline) => {
    const provider = job.providers[i % job.providers.length];
    const t = performance.now();
    const page = await retrying(deadline, async () => {
      const browser = new CountingBrowser(job.ca);
      const login = await browser.go(`${job.app}/login/${provider}`);
      if (login.status !== 200 || !login.url.startsWith(job.idp))
        throw new StepError(`login ${provider} ended at ${pathOf(login.url)} (${login.status})`);
      const p = await browser.submit(login, { user: `load-user-${i}` });
      return { ...p, browser, retryAfter: p.headers.get('retry-after') };
    });
    if (page.url !== `${job.app}/` || page.status !== 200 || !/Signed in with/.test(page.body))
      throw new StepError(`sign-in ${provider} ended at ${pathOf(page.url)} (${page.status})`);
    latency.signIn.push(ms(t));
    users[i] = { provider, browser: page.browser, csrf: csrfOf(page.body) };
    return true;
  });
  function csrfOf(body: string): string {
    const m = /name="csrf" value="([^"]+)"/.exec(body);
    if (!m) throw new StepError('no CSRF token on the files page');
    return decodeEntities(m[1]);
  }
  const signedIn = users.flatMap((u, i) => (u ? [i] : []));
  if (signedIn.length === 0) throw new Error('no user signed in');

  // ---- upload: everyone at once.
  const uploads: Upload[] = Array.from({ length: job.uploads }, (_, i) => ({
    user: signedIn[i % signedIn.length],
    name: `load-${i}.bin`,
    multipart: i % job.multipartEvery === 0,
    size: 0,
    acknowledged: false,
  }));
  let singles = 0;
  let multiparts = 0;
  let bytes = 0;
  const post = async (
    user: User,
    route: string,
    fields: Record<string, string>,
    deadline: number,
  ) =>
    retrying(deadline, async () => {
      const t = performance.now();
      const res = await user.browser.request(`${job.app}${route}`, {
        method: 'POST',
        body: new URLSearchParams({ csrf: user.csrf, ...fields }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: job.app },
      });
      if (route === '/upload-url') latency.uploadUrl.push(ms(t));
      return { ...res, retryAfter: res.headers.get('retry-after') };
    });
  const ok = (status: number, what: string) => {
    if (status !== 200) throw new StepError(`${what} answered ${status}`);
  };

  await burst('upload', job.uploads, job.maxMs.upload, job.uploads, async (i, deadline) => {
    const u = uploads[i];
    const user = users[u.user]!;
    const hash = createHash('sha256');
    if (!u.multipart) {
      const span = job.singleBytes.max - job.singleBytes.min;
      const body = randomBytes(job.singleBytes.min + Math.floor(Math.random() * (span + 1)));
      const target = await post(
        user,
        '/upload-url',
        { name: u.name, type: 'application/octet-stream' },
        deadline,
      );
      ok(target.status, 'POST /upload-url');
      const { url, headers } = JSON.parse(target.body) as {
        url: string;
        headers: Record<string, string>;
      };
      const t = performance.now();
      const put = await retrying(deadline, () => s3(url, 'PUT', body, headers));
      ok(put.status, 'presigned PUT');
      latency.singlePut.push(ms(t));
      u.size = body.length;
      u.sha256 = hash.update(body).digest('hex');
      singles++;
    } else {
      const parts = job.partBytes.map((n) => randomBytes(n));
      // The app plans 64 MiB parts; S3 only wants 5 MiB for all but the last, so smaller
      // parts keep the bytes moved modest while the app still plans as many parts.
      const planned = 64 * 1024 * 1024 * (parts.length - 1) + parts[parts.length - 1].length;
      const target = await post(
        user,
        '/upload-url',
        { name: u.name, size: String(planned), type: 'application/octet-stream' },
        deadline,
      );
      ok(target.status, 'POST /upload-url (multipart)');
      const plan = JSON.parse(target.body) as {
        uploadId: string;
        parts: { partNumber: number; url: string }[];
      };
      if (plan.parts.length !== parts.length)
        throw new StepError(`the app planned ${plan.parts.length} parts, expected ${parts.length}`);
      const t = performance.now();
      const etags = await Promise.all(
        plan.parts.map(async (p, k) => {
          const put = await retrying(deadline, () => s3(p.url, 'PUT', parts[k]));
          ok(put.status, `part ${p.partNumber} PUT`);
          return { partNumber: p.partNumber, etag: String(put.etag) };
        }),
      );
      const done = await post(
        user,
        '/upload-complete',
        { name: u.name, uploadId: plan.uploadId, parts: JSON.stringify(etags) },
        deadline,
      );
      ok(done.status, 'POST /upload-complete');
      latency.multipart.push(ms(t));
      for (const p of parts) hash.update(p);
      u.size = parts.reduce((s, p) => s + p.length, 0);
      u.sha256 = hash.digest('hex');
      multiparts++;
    }
    u.acknowledged = true;
    bytes += u.size;
    return true;
  });

  // ---- read-back: every acknowledged object, and every user's list.
  const acknowledged = uploads.filter((u) => u.acknowledged);
  let intact = 0;
  let lost = 0;
  let corrupted = 0;
  let unlisted = 0;
  const owners = [...new Set(acknowledged.map((u) => u.user))];
  await burst(
    'read-back',
    acknowledged.length + owners.length,
    job.maxMs.readBack,
    job.readConcurrency,
    async (i, deadline) => {
      if (i >= acknowledged.length) {
        const owner = owners[i - acknowledged.length];
        const page = await retrying(deadline, async () => {
          const p = await users[owner]!.browser.request(`${job.app}/`);
          return { ...p, retryAfter: p.headers.get('retry-after') };
        });
        ok(page.status, 'files page');
        for (const u of acknowledged)
          if (u.user === owner && !page.body.includes(`>${u.name}<`)) unlisted++;
        return true;
      }
      const u = acknowledged[i];
      const t = performance.now();
      const link = await retrying(deadline, async () => {
        const r = await users[u.user]!.browser.request(
          `${job.app}/download?name=${encodeURIComponent(u.name)}`,
        );
        return { ...r, retryAfter: r.headers.get('retry-after') };
      });
      if (link.status === 404) {
        lost++;
        throw new StepError(`${u.name}: /download answered 404`);
      }
      if (link.status !== 302) throw new StepError(`${u.name}: /download answered ${link.status}`);
      const file = await retrying(deadline, () => s3(link.headers.get('location')!, 'GET'));
      if (file.status === 404) {
        lost++;
        throw new StepError(`${u.name}: GET answered 404`);
      }
      ok(file.status, 'presigned GET');
      latency.readBack.push(ms(t));
      const sha = createHash('sha256').update(file.body).digest('hex');
      if (file.body.length !== u.size || sha !== u.sha256) {
        corrupted++;
        throw new StepError(
          `${u.name}: ${file.body.length} bytes read back, ${u.size} written, or another SHA-256`,
        );
      }
      intact++;
      return true;
    },
  );
  agent.destroy();

  return {
    latency: {
      signIn: percentiles(latency.signIn),
      uploadUrl: percentiles(latency.uploadUrl),
      singlePut: percentiles(latency.singlePut),
      multipart: percentiles(latency.multipart),
      readBack: percentiles(latency.readBack),
    },
    uploads: { single: singles, multipart: multiparts, bytes },
    integrity: {
      acknowledged: acknowledged.length,
      intact,
      lost,
      unverified: acknowledged.length - intact - corrupted - lost,
      corrupted,
      unlisted,
    },
    statuses: statuses.counts,
    unexpected: statuses.unexpected,
    firstUnexpected: statuses.firstUnexpected,
    retried: statuses.retried,
    resent: statuses.resent,
  };
}

/**
 * A connection closed before any answer: a browser sends the request again (once), since
 * a server may close an idle keep-alive connection just as the client picks it. Through
 * fetch the client cannot tell a reused connection from a new one, so the app's requests
 * are resent on any of these. A resent request that had in fact arrived shows up as an
 * unexpected status (412 for an upload).
 */
const RESENDABLE = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
function resendable(e: unknown): boolean {
  return !(e instanceof StepError) && RESENDABLE.has(errorKind(e));
}

/** An error's code, its cause's code (fetch wraps network errors), or its message. */
function errorKind(e: unknown): string {
  const err = e as {
    code?: unknown;
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  };
  if (e instanceof StepError) return String(err.message).replace(/load-\d+\.bin/, 'load-N.bin');
  const code = err.cause?.code ?? err.code;
  if (typeof code === 'string') return code;
  return String(err.cause?.message ?? err.message ?? e);
}

function pathOf(url: string): string {
  const u = new URL(url);
  return u.pathname;
}

function generatorMode(): void {
  // Never outlive the host.
  process.on('disconnect', () => process.exit(1));
  process.once('message', (job: IntegrityJob) => {
    generate(job).then(
      (report) => process.send!({ type: 'done', report } satisfies HostMessage),
      (e: Error) => process.send!({ type: 'error', message: e.message } satisfies HostMessage),
    );
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode === 'generator') return generatorMode();
  if (mode !== 'host') throw new Error('mode must be host or generator');
  const job = JSON.parse(process.argv[3] ?? '{}') as Omit<IntegrityJob, 'app' | 'idp' | 'ca'>;
  const result = await hostMode(job);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  // Keep-alive sockets and the like must not hold the process open.
  process.exit(0);
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  });
}
