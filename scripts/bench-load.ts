/**
 * Bench section `load` (`npm run bench -- --only load`): a bounded burst of concurrent
 * sign-ins across the four provider families, then a burst of concurrent presigned uploads
 * (mostly small single PUTs, some multipart), then every object read back and compared by
 * SHA-256. Reports what was lost or corrupted (required: none), every HTTP status seen
 * (required: only 2xx, redirects where a flow has them, or 503 with Retry-After), and
 * p50/p99 latencies. The work runs in scripts/bench-load-worker.ts processes.
 */
import * as os from 'node:os';
import type { BenchRow, BenchSection } from './bench-lib';
import { runWorker } from './bench-sandbox';
import type {
  IntegrityBurstReport,
  IntegrityJob,
  IntegrityReport,
  Percentiles,
} from './bench-sandbox-protocol';

const MiB = 1024 * 1024;

const JOB: Omit<IntegrityJob, 'app' | 'idp' | 'ca'> = {
  providers: ['amazon', 'facebook', 'google', 'devidp'],
  signIns: 200,
  uploads: 1_000,
  multipartEvery: 50,
  singleBytes: { min: 1024, max: 64 * 1024 },
  partBytes: [5 * MiB, 5 * MiB, 64 * 1024],
  readConcurrency: 100,
  maxMs: { signIn: 120_000, upload: 180_000, readBack: 120_000 },
  requestTimeoutMs: 60_000,
  maxRetries: 3,
  maxRetryAfterS: 10,
};

const MULTIPART = Math.ceil(JOB.uploads / JOB.multipartEvery);
const SINGLE = JOB.uploads - MULTIPART;
const MAX_BYTES =
  SINGLE * JOB.singleBytes.max + MULTIPART * JOB.partBytes.reduce((s, n) => s + n, 0);
/** Sandbox start, every burst's time, two request timeouts per burst and slack. */
const WORKER_TIMEOUT_MS =
  60_000 +
  JOB.maxMs.signIn +
  JOB.maxMs.upload +
  JOB.maxMs.readBack +
  6 * JOB.requestTimeoutMs +
  30_000;

const CPUS = os.cpus().length;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const lat = (p: Percentiles) =>
  p.n === 0 ? 'n/a' : `${p.p50.toFixed(0)} / ${p.p99.toFixed(0)} / ${p.max.toFixed(0)} ms`;
const cpu = (b: IntegrityBurstReport) =>
  `${(b.hostCpuMs / 1000).toFixed(1)} / ${b.lambdaCpuMs === undefined ? 'n/a' : (b.lambdaCpuMs / 1000).toFixed(1)} / ${(b.clientCpuMs / 1000).toFixed(1)} s`;
/** CPU the machine spent outside our processes during a burst, as a share of its capacity. */
const other = (b: IntegrityBurstReport) =>
  `${(
    (100 * Math.max(0, b.machineBusyMs - b.hostCpuMs - b.clientCpuMs - (b.lambdaCpuMs ?? 0))) /
    b.machineCapacityMs
  ).toFixed(0)} %`;

const loadSection: BenchSection = {
  id: 'load',
  title:
    `sandbox load and integrity: ${JOB.signIns} concurrent sign-ins (round-robin ${JOB.providers.join(', ')}), then ` +
    `${JOB.uploads} concurrent uploads through /upload-url (${SINGLE} single PUTs of ${JOB.singleBytes.min / 1024}-${JOB.singleBytes.max / 1024} KiB, ` +
    `${MULTIPART} multipart of ${JOB.partBytes.length} parts, ${JOB.partBytes.map((n) => (n >= MiB ? `${n / MiB} MiB` : `${n / 1024} KiB`)).join(' + ')}; <= ${mb(MAX_BYTES)}), ` +
    `then each object read back through /download and compared by SHA-256; every burst bounded ` +
    `(${JOB.maxMs.signIn / 1000} / ${JOB.maxMs.upload / 1000} / ${JOB.maxMs.readBack / 1000} s, ${JOB.requestTimeoutMs / 1000} s per request, ` +
    `a 503 with Retry-After waited out <= ${JOB.maxRetries} times); one run, latencies p50 / p99 / max\n` +
    `  note: ${CPUS} cpus shared by the load generator, the sandbox, the Lambda process and whatever else runs ` +
    '(see "other processes"); the latencies are of everything at once on this machine, not of any one part',
  run(opts): BenchRow[] {
    process.stderr.write('bench: load and integrity: sandbox + 3 bursts\n');
    const r = runWorker<IntegrityReport>(opts, 'host', {
      script: 'scripts/bench-load-worker.ts',
      args: [JSON.stringify(JOB)],
      timeoutMs: WORKER_TIMEOUT_MS,
    });
    const signIn = r.bursts['sign-in'];
    const upload = r.bursts.upload;
    const readBack = r.bursts['read-back'];
    const i = r.integrity;
    const statuses = Object.entries(r.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k}: ${n}`)
      .join(', ');
    const all = (b: IntegrityBurstReport, planned: number) => ({
      text: `all ${planned}`,
      ok: b.succeeded === planned,
      required: true,
    });
    const withError = (b: IntegrityBurstReport) =>
      Object.keys(b.errors).length > 0
        ? ` (errors: ${Object.entries(b.errors)
            .map(([k, n]) => `${n} x ${k}`)
            .join(', ')})`
        : '';
    return [
      {
        name: `sign-ins completed / started${withError(signIn)}`,
        value: `${signIn.succeeded} / ${signIn.attempted}`,
        target: all(signIn, JOB.signIns),
      },
      { name: '   sign-in latency (whole flow)', value: lat(r.latency.signIn) },
      {
        name: '   burst wall time, sign-ins per second',
        value: `${(signIn.wallMs / 1000).toFixed(1)} s, ${(signIn.succeeded / (signIn.wallMs / 1000)).toFixed(1)} /s`,
      },
      {
        name: `uploads acknowledged / started (single + multipart)${withError(upload)}`,
        value: `${i.acknowledged} / ${upload.attempted} (${r.uploads.single} + ${r.uploads.multipart})`,
        target: all(upload, JOB.uploads),
      },
      { name: '   POST /upload-url latency', value: lat(r.latency.uploadUrl) },
      { name: '   single presigned PUT latency', value: lat(r.latency.singlePut) },
      {
        name: `   multipart: ${JOB.partBytes.length} part PUTs + /upload-complete latency`,
        value: lat(r.latency.multipart),
      },
      {
        name: '   bytes acknowledged, burst wall time',
        value: `${mb(r.uploads.bytes)}, ${(upload.wallMs / 1000).toFixed(1)} s`,
      },
      {
        name: `objects read back intact / acknowledged${withError(readBack)}`,
        value: `${i.intact} / ${i.acknowledged}`,
        target: {
          text: 'all',
          ok: i.intact === i.acknowledged && i.acknowledged > 0,
          required: true,
        },
      },
      {
        name: '   lost (404 on read-back)',
        value: String(i.lost),
        target: { text: '0', ok: i.lost === 0, required: true },
      },
      {
        name: '   corrupted (size or SHA-256 differs)',
        value: String(i.corrupted),
        target: { text: '0', ok: i.corrupted === 0, required: true },
      },
      {
        name: '   not verified (read-back failed or ran out of time)',
        value: String(i.unverified),
        target: { text: '0', ok: i.unverified === 0, required: true },
      },
      {
        name: "   missing from the owner's files page",
        value: String(i.unlisted),
        target: { text: '0', ok: i.unlisted === 0, required: true },
      },
      { name: '   read-back latency (/download + presigned GET)', value: lat(r.latency.readBack) },
      { name: 'HTTP statuses seen by the clients', value: statuses },
      {
        name: `   unexpected statuses${r.firstUnexpected ? ` (first: ${r.firstUnexpected})` : ''}`,
        value: String(r.unexpected),
        target: { text: '0', ok: r.unexpected === 0, required: true },
      },
      { name: '   steps retried after a 503 with Retry-After', value: String(r.retried) },
      {
        name: '   TCP listen queue overflows on the machine during the run (all processes)',
        value: r.listenOverflows === undefined ? 'n/a' : String(r.listenOverflows),
      },
      {
        name: '   5xx answers the sandbox logged (operation, status, code, reason)',
        value:
          Object.entries(r.serverErrors)
            .map(([k, n]) => `${n} x ${k}`)
            .join('; ') || '0',
      },
      {
        name: '   requests resent once after the connection closed before any answer (as browsers do)',
        value:
          Object.entries(r.resent)
            .map(([k, n]) => `${n} x ${k}`)
            .join(', ') || '0',
      },
      {
        name: 'CPU host (IdP, STS, S3, API) / Lambda / generator: sign-in burst',
        value: cpu(signIn),
      },
      { name: '   upload burst', value: cpu(upload) },
      { name: '   read-back burst', value: cpu(readBack) },
      {
        name: `other processes, share of ${CPUS} cpus: sign-in / upload / read-back`,
        value: `${other(signIn)} / ${other(upload)} / ${other(readBack)}`,
      },
    ];
  },
};

export function loadSections(): BenchSection[] {
  return [loadSection];
}
