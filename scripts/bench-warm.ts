/**
 * Warm handler time per signed-in page view: one process, the real core (cookie
 * decryption, routing, HTML rendering) with in-memory ports, so no network is timed.
 * Prints JSON stats in milliseconds.
 */
import { createApp } from '../lambda/callback/app';
import { parseAppConfig } from '../common/app-config';
import { CookieSealer } from '../lambda/callback/cookies';
import { APP_CONFIG_FOR_BENCH } from './bench-lib';

const KEY = 'c'.repeat(48);
const REQUESTS = 2000;
const WARMUP = 200;

async function main(): Promise<void> {
  const config = parseAppConfig(JSON.stringify({ ...APP_CONFIG_FOR_BENCH, sandbox: false }));
  const files = Array.from({ length: 20 }, (_, i) => ({
    name: `file-${i}.pdf`,
    size: 1000 * i,
    lastModified: new Date(Date.UTC(2026, 10, 1)),
  }));
  const unused = async () => {
    throw new Error('not used on a page view');
  };
  let stsCalls = 0;
  const app = createApp({
    config,
    clock: { now: () => Date.now() },
    secrets: { get: async () => KEY },
    idp: { start: unused, finish: unused },
    sts: {
      assume: async () => {
        stsCalls++;
        throw new Error('no STS on page views');
      },
    },
    storage: {
      list: async () => ({ files, folders: [] }),
      exists: unused,
      presignGet: unused,
      presignPut: unused,
      createMultipart: unused,
      presignUploadPart: unused,
      completeMultipart: unused,
      abortMultipart: unused,
      delete: unused,
    },
  });
  const session = CookieSealer.fromSecret(KEY).seal('session', {
    p: 'google',
    sub: '1001',
    dn: 'Alice',
    ak: 'ASIAEXAMPLE',
    sk: 's'.repeat(40),
    st: 't'.repeat(900),
    exp: Date.now() + 3600_000,
    csrf: 'x'.repeat(43),
  });
  const request = {
    method: 'GET',
    path: '/',
    rawQuery: '',
    headers: {},
    cookies: { '__Host-wif-session': session },
    body: '',
    requestId: 'bench',
  };
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    const t = process.hrtime.bigint();
    const res = await app(request);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (res.status !== 200 || !res.body.includes('file-19.pdf'))
      throw new Error(`unexpected response ${res.status}`);
    if (i >= WARMUP) samples.push(ms);
  }
  if (stsCalls !== 0) throw new Error('page views called STS');
  samples.sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      median: samples[Math.floor(samples.length / 2)],
      min: samples[0],
      max: samples[samples.length - 1],
      samples: samples.length,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
