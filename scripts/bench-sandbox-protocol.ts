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
