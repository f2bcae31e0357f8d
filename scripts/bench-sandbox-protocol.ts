/**
 * What the sandbox bench (scripts/bench-sandbox.ts) and its worker processes
 * (scripts/bench-sandbox-worker.ts) agree on: the bounded load phases, the result line
 * and the reports' shapes. Both import this module; neither imports the other.
 */

/** The worker prints its report as one line starting with this. */
export const RESULT_PREFIX = 'BENCH-RESULT ';

/** One bounded phase of closed-loop load: stops at `maxRequests` or `maxMs`, whichever first. */
export interface LoadPhase {
  readonly name: string;
  readonly concurrency: number;
  readonly maxRequests: number;
  readonly maxMs: number;
}

export type LoadTarget =
  | {
      readonly kind: 'sdk';
      readonly endpoint: string;
      readonly bucket: string;
      readonly key: string;
      readonly credentials: {
        readonly accessKeyId: string;
        readonly secretAccessKey: string;
        readonly sessionToken?: string;
      };
      readonly expectBytes: number;
      readonly ca: string;
    }
  | {
      readonly kind: 'url';
      readonly url: string;
      readonly expectBytes: number;
      readonly ca: string;
    }
  | { readonly kind: 'signin'; readonly app: string; readonly idp: string; readonly ca: string };

export interface LoadJob {
  readonly target: LoadTarget;
  readonly phases: readonly LoadPhase[];
  readonly requestTimeoutMs: number;
}

/** Milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

/** What the load generator measures in one phase. */
export interface ClientPhase {
  readonly name: string;
  readonly concurrency: number;
  readonly completed: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly wallMs: number;
  readonly perSecond: number;
  readonly latencyMs: Latency;
  /** CPU time of the load generator process. */
  readonly clientCpuMs: number;
  /** Connections the S3 clients opened (keep-alive agents). */
  readonly connectionsOpened: number;
  /** Sign-ins: median time per sign-in spent in each kind of hop. */
  readonly hopsMs?: Readonly<Record<string, number>>;
}

/** A phase, with what the host saw meanwhile. */
export interface PhaseReport extends ClientPhase {
  /** CPU time of the host process (dev IdP, STS, S3 proxy, s3rver, HTTP API front). */
  readonly hostCpuMs: number;
  /** CPU time of the Lambda runner process (Linux /proc, 10 ms ticks), if found. */
  readonly lambdaCpuMs?: number;
  /** CPU time of every process on the machine, and the machine's capacity (wall x cpus). */
  readonly machineBusyMs: number;
  readonly machineCapacityMs: number;
}

export interface StartReport {
  /** process.uptime() when this mode began: node + tsx + this script. */
  readonly bootS: number;
  /** process.uptime() when the first sandbox was ready: node + tsx + modules + start. */
  readonly readyUptimeS: number;
  readonly firstColdS: number;
  readonly closeS: number;
  readonly restartS: number;
  readonly firstWarmS: number;
  readonly synthS: number;
  readonly synthNoBundlingS: number;
}

export type S3LoadName = 'sdkLocal' | 'sdkS3rver' | 'presignedLocal' | 'plainS3rver';

export interface S3Report {
  readonly objectBytes: number;
  /** SDK GetObject presign (middleware + SigV4, no network), ms per URL. */
  readonly presignMs: number;
  readonly loads: Readonly<Record<S3LoadName, Readonly<Record<string, PhaseReport>>>>;
}

export interface SigninReport {
  readonly phases: Readonly<Record<string, PhaseReport>>;
}

export const S3_PHASES: readonly LoadPhase[] = [
  { name: 'warmup', concurrency: 16, maxRequests: 300, maxMs: 1_000 },
  { name: 'loaded', concurrency: 16, maxRequests: 3_000, maxMs: 3_000 },
  { name: 'single', concurrency: 1, maxRequests: 500, maxMs: 1_000 },
];

export const SIGNIN_PHASES: readonly LoadPhase[] = [
  { name: 'warmup', concurrency: 20, maxRequests: 20, maxMs: 10_000 },
  { name: 'single', concurrency: 1, maxRequests: 10, maxMs: 5_000 },
  { name: 'loaded', concurrency: 20, maxRequests: 200, maxMs: 20_000 },
];

/** The hops of one sign-in, by where they go. */
export const HOPS = {
  login: 'app /login',
  idp: 'dev IdP',
  callback: 'app callback',
  files: 'app files page',
  other: 'other',
} as const;

// ---------------------------------------------------------------- load and integrity

/**
 * The load and integrity run (scripts/bench-load.ts, scripts/bench-load-worker.ts): bursts,
 * not closed loops. Every operation of a burst starts at once; the burst is bounded by its
 * count and by `maxMs`, after which nothing new starts (retries included) and every
 * request still open is abandoned at `requestTimeoutMs`.
 */
export interface IntegrityJob {
  readonly app: string;
  readonly idp: string;
  readonly ca: string;
  /** Provider names at the app, one sign-in family each, signed in round-robin. */
  readonly providers: readonly string[];
  readonly signIns: number;
  readonly uploads: number;
  /** Every `multipartEvery`-th upload is a multipart upload, the rest single PUTs. */
  readonly multipartEvery: number;
  /** Single PUT bodies are uniformly random in [min, max] bytes. */
  readonly singleBytes: { readonly min: number; readonly max: number };
  /** The parts of a multipart upload, in bytes (S3 wants >= 5 MiB for all but the last). */
  readonly partBytes: readonly number[];
  /** Parallel reads when checking the objects back (verification, not load). */
  readonly readConcurrency: number;
  readonly maxMs: { readonly signIn: number; readonly upload: number; readonly readBack: number };
  readonly requestTimeoutMs: number;
  /** Retries of one step after a 503 with Retry-After (waits capped at `maxRetryAfterS`). */
  readonly maxRetries: number;
  readonly maxRetryAfterS: number;
}

/** Milliseconds; p99 of a small sample is close to its max. */
export interface Percentiles {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface IntegrityBurst {
  readonly name: 'sign-in' | 'upload' | 'read-back';
  readonly attempted: number;
  readonly succeeded: number;
  readonly wallMs: number;
  readonly firstError?: string;
  /** Failed operations by kind of error (an error code, or the message). */
  readonly errors: Readonly<Record<string, number>>;
  /** CPU of the load generator in this burst. */
  readonly clientCpuMs: number;
}

export interface IntegrityBurstReport extends IntegrityBurst {
  readonly hostCpuMs: number;
  readonly lambdaCpuMs?: number;
  readonly machineBusyMs: number;
  readonly machineCapacityMs: number;
}

export interface IntegrityReport {
  readonly bursts: Readonly<Record<IntegrityBurst['name'], IntegrityBurstReport>>;
  readonly latency: {
    /** Whole sign-in: /login, the IdP's form, the callback, the files page. */
    readonly signIn: Percentiles;
    /** POST /upload-url (single and multipart). */
    readonly uploadUrl: Percentiles;
    /** The presigned PUT of a single upload. */
    readonly singlePut: Percentiles;
    /** A multipart upload's part PUTs (in parallel) and its /upload-complete. */
    readonly multipart: Percentiles;
    /** /download and the presigned GET of one object. */
    readonly readBack: Percentiles;
  };
  readonly uploads: {
    readonly single: number;
    readonly multipart: number;
    /** Bytes uploaded that S3 acknowledged. */
    readonly bytes: number;
  };
  readonly integrity: {
    /** Uploads S3 acknowledged (PUT 200, or /upload-complete 200). */
    readonly acknowledged: number;
    readonly intact: number;
    /** Acknowledged, then not found (404) on read-back. */
    readonly lost: number;
    /** Acknowledged, but its read-back failed otherwise (timeout, error) or never ran. */
    readonly unverified: number;
    /** Read back with another size or SHA-256. */
    readonly corrupted: number;
    /** Acknowledged but missing from its owner's files page. */
    readonly unlisted: number;
  };
  /** Every HTTP status the clients saw, e.g. `200`, `302`, `503+Retry-After`. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Statuses other than 2xx, a redirect where the flow expects one, or 503 with Retry-After. */
  readonly unexpected: number;
  readonly firstUnexpected?: string;
  /** Steps retried after a 503 with Retry-After. */
  readonly retried: number;
  /** The sandbox's log entries of its own 5xx answers (operation or path, status, reason), counted. */
  readonly serverErrors: Readonly<Record<string, number>>;
  /**
   * TCP connections the machine's listen queues dropped during the run (Linux, all
   * processes): a burst of new connections beyond a server's backlog shows up here.
   */
  readonly listenOverflows?: number;
  /** Requests sent again (once) after their connection closed before any answer, by where and error. */
  readonly resent: Readonly<Record<string, number>>;
}
