/**
 * Faults against a real sandbox: the IdP down or hanging, STS throttling, S3 SlowDown and
 * 500s, Secrets Manager failing at cold start, the Lambda process dying mid-request (a read,
 * and while it completes an upload), and S3 (or the whole sandbox) restarting in the middle
 * of a multipart upload (or losing its parts while down). Each fault is
 * injected from outside the sandbox's code (test/support/sandbox-faults.ts); each case
 * checks that the user gets the right page or the call is retried, and that no object is
 * lost or visible corrupted.
 *
 * The cases share sandboxes to keep the file quick; a case that breaks a service for good
 * (the IdP closed, the Lambda process killed) gets a sandbox of its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AssetStaging } from 'aws-cdk-lib';
import { startLocalHttpApi } from '../../local/http-api';
import { startLocalS3 } from '../../local/s3';
import { sandboxAppConfig, startSandbox, type Sandbox } from '../../local/sandbox';
import { SANDBOX_CLIENTS, type SandboxPorts } from '../../local/sandbox-config';
import { ScriptedBrowser, decodeEntities, type Page } from '../../local/scripted-browser';
import {
  ParkingBrowser,
  RequestTap,
  childPids,
  closeNow,
  type Fault,
  fakeSecretsManager,
  firstRequests,
  freePort,
  holdAnswers,
  holdRequests,
  multipartUploadDir,
  s3Error,
  silentHttpsServer,
  silentTcpServer,
  stsThrottling,
  withListeningServers,
} from '../support/sandbox-faults';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The callback function's timeout in the stack (lib/callback-app.ts): its whole budget. */
const FUNCTION_BUDGET_MS = 15_000;
const PROVIDERS = ['google', 'amazon', 'facebook', 'devidp'] as const;
type ProviderName = (typeof PROVIDERS)[number];

/** A sandbox of this file, with the servers it started and what the test put in front of them. */
interface Running {
  readonly sandbox: Sandbox;
  readonly dataDir: string;
  readonly servers: Map<number, net.Server>;
  readonly sts: RequestTap;
  readonly s3: RequestTap;
  /** Run at stop, last added first: whatever a case started on the side. */
  readonly cleanups: (() => Promise<void>)[];
}

let run: Running;

async function start(dataDir: string, ports: SandboxPorts | 'free', reset: boolean) {
  // aws-cdk-lib caches staged assets per process by hash, and startSandbox wipes its
  // cloud assembly first: without this a second start in one process finds no bundle.
  AssetStaging.clearAssetHashCache();
  const { result: sandbox, servers } = await withListeningServers(() =>
    startSandbox({ dataDir, ports, reset }),
  );
  const server = (port: number) => servers.get(port) as http.Server;
  return {
    sandbox,
    dataDir,
    servers,
    sts: new RequestTap(server(sandbox.ports.sts)),
    s3: new RequestTap(server(sandbox.ports.s3)),
    cleanups: [],
  } satisfies Running;
}

/** Closes everything, also when a case already closed or replaced part of it. */
async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  for (const c of r.cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await r.sandbox.close().catch(() => undefined);
  // sandbox.close() stops at the first service that was already closed by a case.
  for (const s of r.servers.values()) await closeNow(s);
  for (const pid of childPids('lambda-runner')) process.kill(pid, 'SIGKILL');
}

/** Stops the sandbox and starts it again on the same data dir and ports (objects stay). */
async function restartSandbox(): Promise<void> {
  const { dataDir, sandbox } = run;
  await stop(run);
  run = await start(dataDir, sandbox.ports, false);
}

async function freshSandbox(): Promise<void> {
  await stop(run);
  if (run) fs.rmSync(run.dataDir, { recursive: true, force: true, maxRetries: 3 });
  run = await start(fs.mkdtempSync(path.join(os.tmpdir(), 'wif-faults-')), 'free', true);
}

afterAll(async () => {
  await stop(run);
  if (run) fs.rmSync(run.dataDir, { recursive: true, force: true, maxRetries: 3 });
});

const app = () => run.sandbox.urls.app;
const ca = () => run.sandbox.tls.ca;

async function signIn(provider: ProviderName, user: string): Promise<SignedIn> {
  const browser = new ScriptedBrowser(ca());
  const login = await browser.go(`${app()}/login/${provider}`);
  expect(login.url.startsWith(run.sandbox.urls.idp)).toBe(true);
  const page = await browser.submit(login, { user });
  expect({ url: page.url, status: page.status }).toEqual({ url: `${app()}/`, status: 200 });
  return new SignedIn(browser, page);
}

/** Signs in at the IdP and stops just before the app's callback; returns its URL. */
async function parkBeforeCallback(
  provider: ProviderName,
  user: string,
): Promise<{ browser: ParkingBrowser; callback: string }> {
  const browser = new ParkingBrowser(ca());
  const login = await browser.go(`${app()}/login/${provider}`);
  const parked = await browser.submit(login, { user });
  expect(parked.url).toMatch(new RegExp(`^${app()}/oauth2callback/${provider}\\?`));
  browser.parked = false;
  return { browser, callback: parked.url };
}

/** A signed-in user: the app's JSON upload routes, downloads. */
class SignedIn {
  constructor(
    readonly browser: ScriptedBrowser,
    readonly page: Page,
  ) {}

  get csrf(): string {
    return decodeEntities(/name="csrf" value="([^"]+)"/.exec(this.page.body)![1]);
  }

  async post(route: string, fields: Record<string, string>) {
    const res = await this.browser.request(`${app()}${route}`, {
      method: 'POST',
      body: new URLSearchParams({ csrf: this.csrf, ...fields }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: app() },
    });
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(res.body) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body: res.body, json };
  }

  /**
   * Starts a multipart upload through the app (two planned parts; the test sends a 5 MiB
   * first part and a small last one, which S3 accepts, to keep the bytes moved small).
   */
  async startMultipart(name: string): Promise<{ uploadId: string; urls: string[] }> {
    const res = await this.post('/upload-url', { name, size: String(65 * MiB) });
    expect(res.status).toBe(200);
    const target = res.json as { uploadId: string; parts: { url: string }[] };
    expect(target.parts).toHaveLength(2);
    return { uploadId: target.uploadId, urls: target.parts.map((p) => p.url) };
  }

  complete(name: string, uploadId: string, parts: { partNumber: number; etag: string }[]) {
    return this.post('/upload-complete', { name, uploadId, parts: JSON.stringify(parts) });
  }

  /** The object's bytes through /download, or the status when there is none. */
  async download(name: string): Promise<{ status: number; body?: Buffer }> {
    const res = await this.browser.request(`${app()}/download?name=${encodeURIComponent(name)}`);
    if (res.status !== 302) return { status: res.status };
    const file = await raw(res.headers.get('location')!);
    return { status: file.status, body: file.body };
  }
}

function raw(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: init.method ?? 'GET', headers: init.headers, ca: ca(), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url} in 30 s`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

async function putPart(url: string, body: Buffer, partNumber: number) {
  const res = await raw(url, { method: 'PUT', body });
  return { status: res.status, partNumber, etag: String(res.headers.etag), body: res.body };
}

/** A page a person can read: HTML with a heading, no stack, no AWS error codes. */
function expectReadablePage(res: { headers: Headers; body: string }, text: RegExp): void {
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.body).toMatch(/<h1>/);
  expect(res.body).toMatch(text);
  expect(res.body).not.toMatch(
    /Throttling|SlowDown|InternalError|ECONNREFUSED|ECONNRESET|stack|at \w+ \(|Exception/,
  );
}

const isList = (req: http.IncomingMessage) =>
  req.method === 'GET' && /[?&]list-type=2/.test(req.url ?? '');
const isCreateMultipart = (req: http.IncomingMessage) =>
  req.method === 'POST' && /\?uploads(=|&|$)/.test(req.url ?? '');

describe('on one sandbox: STS, S3 and Secrets Manager faults, S3 restarts', () => {
  beforeAll(freshSandbox);

  describe('STS throttling (a proxy answers Throttling in front of the local STS)', () => {
    afterEach(() => run.sts.inject(undefined));

    test('two Throttling answers: the app retries and the sign-in goes through', async () => {
      run.sts.inject(firstRequests(2, stsThrottling));
      const user = await signIn('google', 'throttled-once');
      expect(user.page.body).toContain('Signed in with');
      expect({ seen: run.sts.seen, failed: run.sts.failed }).toEqual({ seen: 3, failed: 2 });
    });

    test('Throttling on every call: after 3 attempts a 503 page with Retry-After, no session', async () => {
      const { browser, callback } = await parkBeforeCallback('amazon', 'throttled-always');
      run.sts.inject(stsThrottling);
      const page = await browser.go(callback);
      expect(page.status).toBe(503);
      expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
      expectReadablePage(page, /not available right now/);
      expect(run.sts.seen).toBe(3);
      expect(browser.cookie(app(), '__Host-wif-session')).toBeUndefined();
    });
  });

  describe("S3 SlowDown and 500 on the app's own S3 calls", () => {
    let alice: SignedIn;
    beforeAll(async () => {
      alice = await signIn('google', 'alice');
    });
    afterEach(() => run.s3.inject(undefined));

    test('two SlowDown answers to the listing: retried, the files page loads', async () => {
      run.s3.inject(firstRequests(2, s3Error(503, 'SlowDown'), isList));
      const page = await alice.browser.go(`${app()}/`);
      expect(page.status).toBe(200);
      expect(page.body).toContain('Signed in with');
      expect(run.s3.failed).toBe(2);
    });

    test('SlowDown on every listing: a readable 503 page with Retry-After, never a 500', async () => {
      run.s3.inject((req, res) => isList(req) && s3Error(503, 'SlowDown')(req, res));
      const page = await alice.browser.go(`${app()}/`);
      expect(page.status).toBe(503);
      expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
      expectReadablePage(page, /try again/i);
    });

    test('one InternalError to CreateMultipartUpload: retried, the upload starts', async () => {
      run.s3.inject(firstRequests(1, s3Error(500, 'InternalError'), isCreateMultipart));
      const started = await alice.startMultipart('retried.bin');
      expect(started.uploadId).toMatch(/^[0-9a-f]{32}$/);
      expect(run.s3.failed).toBe(1);
      await alice.post('/upload-abort', { name: 'retried.bin', uploadId: started.uploadId });
    });

    test('InternalError on every CreateMultipartUpload: a JSON 502/503 the upload script can show, never a 500', async () => {
      run.s3.inject(
        (req, res) => isCreateMultipart(req) && s3Error(500, 'InternalError')(req, res),
      );
      const res = await alice.post('/upload-url', { name: 'refused.bin', size: String(65 * MiB) });
      expect([502, 503]).toContain(res.status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json?.error).toEqual(expect.stringMatching(/try again/i));
    });
  });

  describe('Secrets Manager failing at cold start (the same bundle, no APP_SECRETS, a stand-in Secrets Manager)', () => {
    let sm: Awaited<ReturnType<typeof fakeSecretsManager>>;

    beforeAll(async () => {
      sm = await fakeSecretsManager(sandboxSecrets(run), run.sandbox.tls);
      run.cleanups.push(() => sm.close());
    });

    test('two failures at cold start: the SDK retries, the sign-in starts', async () => {
      sm.fail({ status: 500, type: 'InternalServiceError' }, 2);
      const cold = await secondApi(sm.url);
      const login = await new ScriptedBrowser(ca()).request(`${cold}/login/google`);
      expect(login.status).toBe(302);
      expect(login.headers.get('location')).toMatch(new RegExp(`^${run.sandbox.urls.idp}/`));
      expect(sm.calls()).toBe(3);
    });

    describe('failing throughout', () => {
      let cold: string;
      let failed: { status: number; headers: Headers; body: string };
      beforeAll(async () => {
        sm.fail({ status: 400, type: 'ThrottlingException' });
        cold = await secondApi(sm.url);
        failed = await new ScriptedBrowser(ca()).request(`${cold}/login/google`);
        sm.fail(undefined);
      });

      test('the first request that needs the cookie key gets a readable 503/502 page, never a 500', () => {
        expect([502, 503]).toContain(failed.status);
        expectReadablePage(failed, /try again/i);
      });

      test('once Secrets Manager answers again, the same function process signs users in', async () => {
        const browser = new ScriptedBrowser(ca());
        const login = await browser.go(`${cold}/login/devidp`);
        expect(login.url.startsWith(run.sandbox.urls.idp)).toBe(true);
        const page = await browser.submit(login, { user: 'cold-start' });
        expect({ url: page.url, status: page.status }).toEqual({ url: `${cold}/`, status: 200 });
        expect(page.body).toContain('Signed in with');
      });
    });
  });

  describe('the local S3 alone restarted between the parts of a multipart upload (credentials stay valid)', () => {
    test('the parts are kept on disk: the upload completes with 200 and every byte intact', async () => {
      const dora = await signIn('devidp', 'dora');
      const name = 'across-s3-restart.bin';
      const parts = [randomBytes(5 * MiB), randomBytes(4321)];
      const { uploadId, urls } = await dora.startMultipart(name);
      const first = await putPart(urls[0], parts[0], 1);
      expect(first.status).toBe(200);

      await restartLocalS3();

      const second = await putPart(urls[1], parts[1], 2);
      expect(second.status).toBe(200);
      const done = await dora.complete(name, uploadId, [first, second]);
      expect(done.status).toBe(200);
      const file = await dora.download(name);
      expect(file.status).toBe(200);
      expect(sha(file.body!)).toBe(sha(Buffer.concat(parts)));
    });

    // The one way the parts can be lost: removed from disk while S3 is down.
    test.each([
      {
        lost: 'the first part',
        remove: (dir: string) => fs.rmSync(path.join(dir, '1')),
        status: 400,
      },
      {
        lost: 'the whole upload',
        remove: (dir: string) => fs.rmSync(dir, { recursive: true }),
        status: 404,
      },
    ])(
      '$lost deleted while S3 was down: the app says to start again, and nothing partial is visible',
      async ({ lost, remove, status }) => {
        const gus = await signIn('devidp', 'gus');
        const name = `lost-${lost.replace(/ /g, '-')}.bin`;
        const parts = [randomBytes(5 * MiB), randomBytes(999)];
        const { uploadId, urls } = await gus.startMultipart(name);
        const sent = [await putPart(urls[0], parts[0], 1), await putPart(urls[1], parts[1], 2)];
        for (const p of sent) expect(p.status).toBe(200);

        await restartLocalS3(() => {
          const dir = multipartUploadDir(path.join(run.dataDir, 's3'), uploadId);
          expect(dir).toBeDefined();
          remove(dir!);
        });

        const done = await gus.complete(name, uploadId, sent);
        expect(done.status).toBe(status);
        expect(done.json?.error).toMatch(/start (the upload )?again/i);
        expect((await gus.download(name)).status).toBe(404);
        const page = await gus.browser.go(`${app()}/`);
        expect(page.status).toBe(200);
        expect(page.body).not.toContain(name);
      },
    );
  });

  describe('the whole sandbox restarted on the same data dir in the middle of multipart uploads', () => {
    const data = [randomBytes(5 * MiB), randomBytes(777)];
    let erin: SignedIn;
    // `half`: only its first part made it before the restart; `whole`: both parts did.
    let half: { name: string; uploadId: string; urls: string[] };
    let whole: { name: string; uploadId: string; urls: string[] };
    let wholeParts: { partNumber: number; etag: string }[];

    beforeAll(async () => {
      erin = await signIn('google', 'erin');
      half = { name: 'half.bin', ...(await erin.startMultipart('half.bin')) };
      whole = { name: 'whole.bin', ...(await erin.startMultipart('whole.bin')) };
      const sent = [
        await putPart(half.urls[0], data[0], 1),
        await putPart(whole.urls[0], data[0], 1),
        await putPart(whole.urls[1], data[1], 2),
      ];
      for (const p of sent) expect(p.status).toBe(200);
      wholeParts = sent.slice(1);
      await restartSandbox();
    });

    test('a part URL signed before the restart is refused cleanly (the sandbox STS keeps credentials in memory)', async () => {
      const late = await putPart(half.urls[1], data[1], 2);
      expect(late.status).toBe(403);
      expect(late.body.toString()).toMatch(/<Code>InvalidAccessKeyId<\/Code>/);
    });

    test('the session from before the restart gets a clear "sign in again" from the upload routes, not a 500', async () => {
      const stale = await erin.complete(whole.name, whole.uploadId, wholeParts);
      expect(stale.status).toBe(401);
      expect(stale.json?.error).toMatch(/sign in again/i);
    });

    test('signed in again: the parts sent before the restart (kept on disk) complete with 200, every byte intact', async () => {
      const again = await signIn('google', 'erin');
      for (const name of [half.name, whole.name])
        expect(again.page.body).not.toContain(`>${name}<`);
      const completed = await again.complete(whole.name, whole.uploadId, wholeParts);
      expect(completed.status).toBe(200);
      const file = await again.download(whole.name);
      expect(file.status).toBe(200);
      expect(sha(file.body!)).toBe(sha(Buffer.concat(data)));
    });

    test('the half-done upload is abandoned and the same name uploads afresh, intact', async () => {
      const again = await signIn('google', 'erin');
      const aborted = await again.post('/upload-abort', {
        name: half.name,
        uploadId: half.uploadId,
      });
      expect([200, 404]).toContain(aborted.status);
      expect((await again.download(half.name)).status).toBe(404);
      const fresh = await again.startMultipart(half.name);
      const parts = [
        await putPart(fresh.urls[0], data[0], 1),
        await putPart(fresh.urls[1], data[1], 2),
      ];
      expect((await again.complete(half.name, fresh.uploadId, parts)).status).toBe(200);
      const file = await again.download(half.name);
      expect(sha(file.body!)).toBe(sha(Buffer.concat(data)));
    });
  });
});

describe('the IdP down or hanging (on a sandbox of its own)', () => {
  /** Four users per variant, one per provider family, each parked before the callback. */
  const parked: Record<
    string,
    { provider: ProviderName; browser: ParkingBrowser; callback: string }[]
  > = {};

  beforeAll(async () => {
    await freshSandbox();
    for (const variant of ['down', 'silent-https', 'silent-tcp']) {
      parked[variant] = [];
      for (const provider of PROVIDERS)
        parked[variant].push({
          provider,
          ...(await parkBeforeCallback(provider, `${variant}-user`)),
        });
    }
    await run.sandbox.idp.close();
  });

  const deliver = (variant: string) =>
    Promise.all(
      parked[variant].map(async ({ provider, browser, callback }) => {
        const t = Date.now();
        const page = await browser.go(callback);
        return {
          provider,
          page,
          ms: Date.now() - t,
          session: browser.cookie(app(), '__Host-wif-session'),
        };
      }),
    );

  const expectIdpUnavailable = (
    results: {
      provider: string;
      page: { status: number; headers: Headers; body: string };
      ms: number;
      session?: string;
    }[],
  ) => {
    for (const { provider, page, ms, session } of results) {
      expect({ provider, status: page.status }).toEqual({ provider, status: 502 });
      expectReadablePage(page, /identity provider cannot be reached/);
      expect(session).toBeUndefined();
      expect(ms).toBeLessThan(FUNCTION_BUDGET_MS);
    }
  };

  /** /login of the generic OIDC provider on a fresh container: it must discover the issuer. */
  const coldLogin = async () => {
    const cold = await secondApi();
    const t = Date.now();
    const page = await new ScriptedBrowser(ca()).request(`${cold}/login/devidp`);
    return { provider: 'devidp' as const, page, ms: Date.now() - t, session: undefined };
  };

  test('IdP closed: every family answers the callback with the 502 page, and a first /login too', async () => {
    expectIdpUnavailable([...(await deliver('down')), await coldLogin()]);
  });

  test('IdP accepts TLS and HTTP but never answers: 502 within the function budget', async () => {
    const silent = await silentHttpsServer(run.sandbox.ports.idp, run.sandbox.tls);
    run.cleanups.push(() => silent.close());
    try {
      const [callbacks, login] = await Promise.all([deliver('silent-https'), coldLogin()]);
      expectIdpUnavailable([...callbacks, login]);
      expect(silent.requests()).toBeGreaterThanOrEqual(PROVIDERS.length);
    } finally {
      await silent.close();
    }
  });

  test('IdP accepts TCP and never starts TLS: 502 within the function budget', async () => {
    const silent = await silentTcpServer(run.sandbox.ports.idp);
    run.cleanups.push(() => silent.close());
    try {
      expectIdpUnavailable(await deliver('silent-tcp'));
    } finally {
      await silent.close();
    }
  });
});

describe('the Lambda process dying mid-request (on a sandbox of its own)', () => {
  let frank: SignedIn;
  let cut: { status: number; body: string };

  /**
   * Sends `request` and kills the function process while `hold` keeps the app's S3 call
   * that `matches` accepts (unanswered, or answered but not yet heard); returns what the
   * user got.
   */
  async function killWhileS3Holds(
    matches: (req: http.IncomingMessage) => boolean,
    request: () => Promise<{ status: number; body: string }>,
    hold: { fault: Fault; arrived: Promise<void>; release(): void } = holdRequests(),
  ): Promise<{ status: number; body: string }> {
    const runners = childPids('lambda-runner');
    expect(runners).toHaveLength(1);
    run.s3.inject((req, res) => matches(req) && hold.fault(req, res));
    try {
      const inFlight = request();
      await withTimeout(hold.arrived, 10_000);
      process.kill(runners[0], 'SIGKILL');
      return await withTimeout(inFlight, 10_000);
    } finally {
      run.s3.inject(undefined);
      hold.release();
    }
  }

  /** API Gateway's answer when the function process crashes: 502 with a JSON message. */
  const expectCrashAnswer = (res: { status: number; body: string }) => {
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body)).toEqual({ message: expect.any(String) });
  };

  beforeAll(async () => {
    await freshSandbox();
    frank = await signIn('facebook', 'frank');
    // The files page's S3 listing is held, so the function is busy when it is killed.
    cut = await killWhileS3Holds(isList, () => frank.browser.request(`${app()}/`));
  });

  test('the request in flight gets a 502 with a JSON message, like API Gateway', () => {
    expectCrashAnswer(cut);
  });

  test('a new function process serves the next requests, and the session still works', async () => {
    const health = await withTimeout(frank.browser.request(`${app()}/healthz`), 10_000);
    expect(health.status).toBe(200);
    const page = await withTimeout(frank.browser.go(`${app()}/`), 10_000);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Signed in with');
  });

  describe('killed while it completes a multipart upload (CompleteMultipartUpload held at S3)', () => {
    const data = [randomBytes(5 * MiB), randomBytes(2345)];
    const isComplete = (req: http.IncomingMessage) =>
      req.method === 'POST' && /[?&]uploadId=/.test(req.url ?? '');

    /** Uploads both parts of `name` and kills the function during its /upload-complete. */
    async function completeAndKill(name: string, hold?: ReturnType<typeof holdAnswers>) {
      const { uploadId, urls } = await frank.startMultipart(name);
      const parts = [await putPart(urls[0], data[0], 1), await putPart(urls[1], data[1], 2)];
      for (const p of parts) expect(p.status).toBe(200);
      const answer = await killWhileS3Holds(
        isComplete,
        () => frank.complete(name, uploadId, parts),
        hold,
      );
      return { uploadId, parts, answer };
    }

    test('S3 never gets the call (reset): a 502, no object at all, and the retry completes it intact', async () => {
      const name = 'complete-cut.bin';
      const { uploadId, parts, answer } = await completeAndKill(name);
      expectCrashAnswer(answer);
      expect((await frank.download(name)).status).toBe(404);
      expect((await frank.browser.go(`${app()}/`)).body).not.toContain(name);

      const retried = await frank.complete(name, uploadId, parts);
      expect(retried.status).toBe(200);
      const file = await frank.download(name);
      expect(file.status).toBe(200);
      expect(sha(file.body!)).toBe(sha(Buffer.concat(data)));
    });

    test('S3 completes the call, the function dies before it hears so: a 502, the object whole; the retry says so without a 5xx', async () => {
      const name = 'complete-unheard.bin';
      const { uploadId, parts, answer } = await completeAndKill(name, holdAnswers());
      expectCrashAnswer(answer);
      const file = await frank.download(name);
      expect(file.status).toBe(200);
      expect(sha(file.body!)).toBe(sha(Buffer.concat(data)));

      const retried = await frank.complete(name, uploadId, parts);
      expect({ status: retried.status, error: retried.json?.error }).toEqual({
        status: 404,
        error: expect.stringMatching(/no longer in progress \(finished/),
      });
      expect(sha((await frank.download(name)).body!)).toBe(sha(Buffer.concat(data)));
    });
  });
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Restarts only the local S3 (its HTTPS front and s3rver) on the same port and data dir,
 * with the same STS sessions: what an S3 restart looks like to a client holding URLs.
 * `whileDown` runs while both are stopped. Can be called again: the new servers replace
 * the old ones in `run`.
 */
async function restartLocalS3(whileDown?: () => void): Promise<void> {
  const { sandbox, servers } = run;
  const known = new Set(Object.values(sandbox.ports));
  const backends = [...servers].filter(([port]) => !known.has(port));
  // s3rver is the one server the sandbox starts on a port of its own choosing.
  expect(backends).toHaveLength(1);
  await closeNow(servers.get(sandbox.ports.s3)!);
  await closeNow(backends[0][1]);
  servers.delete(backends[0][0]);
  whileDown?.();
  const { result: s3, servers: started } = await withListeningServers(() =>
    startLocalS3({
      port: sandbox.ports.s3,
      tls: sandbox.tls,
      dataDir: path.join(run.dataDir, 's3'),
      template: sandbox.template,
      model: sandbox.model,
      sessions: sandbox.sessions,
    }),
  );
  for (const [port, server] of started) servers.set(port, server);
  run = { ...run, s3: new RequestTap(started.get(sandbox.ports.s3) as http.Server) };
  run.cleanups.push(() => s3.close());
}

/**
 * A second local HTTP API running the sandbox's bundle in a fresh process (a cold Lambda
 * container), against the same IdP, STS and S3; with `secretsManager`, it reads its secrets
 * there instead of from APP_SECRETS. Returns its URL.
 */
async function secondApi(secretsManager?: string): Promise<string> {
  const { sandbox } = run;
  const port = await freePort();
  const config = sandboxAppConfig(
    sandbox.config,
    { ...sandbox.ports, app: port },
    sandbox.bucket,
    sandbox.roleArns,
  );
  const api = await startLocalHttpApi({
    port,
    tls: sandbox.tls,
    bundle: lambdaBundle(sandbox),
    // The function's configured timeout, as the sandbox's own HTTP API uses it.
    functionTimeoutMs: 15_000,
    environment: {
      NODE_EXTRA_CA_CERTS: sandbox.tls.caFile,
      ...(secretsManager
        ? {
            APP_CONFIG: JSON.stringify({
              ...config,
              endpoints: { ...config.endpoints, secretsManager },
            }),
            // Secrets Manager calls are signed; the stand-in does not check the signature.
            AWS_ACCESS_KEY_ID: 'AKIAFAULTSTEST000000',
            AWS_SECRET_ACCESS_KEY: 'not-a-secret',
          }
        : {
            APP_CONFIG: JSON.stringify(config),
            APP_SECRETS: JSON.stringify(sandboxSecrets(run)),
          }),
    },
  });
  run.cleanups.push(() => api.close());
  return api.url;
}

/** The callback bundle in the sandbox's cloud assembly (what its HTTP API runs). */
function lambdaBundle(sandbox: Sandbox): string {
  const resources = sandbox.template.Resources as Record<
    string,
    { Type: string; Metadata?: Record<string, string> }
  >;
  for (const r of Object.values(resources)) {
    const asset = r.Metadata?.['aws:asset:path'];
    if (r.Type === 'AWS::Lambda::Function' && asset)
      return path.join(run.dataDir, 'cdk.out', asset, 'index.js');
  }
  throw new Error('no bundled function in the template');
}

/** The secrets the sandbox passes in APP_SECRETS, for the stand-in Secrets Manager. */
function sandboxSecrets(r: Running): Record<string, string> {
  return {
    'cookie-key': fs.readFileSync(path.join(r.dataDir, 'cookie-key'), 'utf8').trim(),
    'amazon-client-secret': SANDBOX_CLIENTS.amazon.clientSecret,
    'google-client-secret': SANDBOX_CLIENTS.google.clientSecret,
    'facebook-client-secret': SANDBOX_CLIENTS.facebook.clientSecret,
    [`${SANDBOX_CLIENTS.oidc.name}-client-secret`]: SANDBOX_CLIENTS.oidc.clientSecret,
  };
}
