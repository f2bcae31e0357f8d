/**
 * Renders the signed-in files page in a real browser (Debian chromium, driven by
 * playwright-core) and saves docs/signed-in.png for the README. The core runs with
 * in-memory ports (no AWS), the page, cookies, CSS and script are the real ones.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { createApp } from '../lambda/callback/app';
import { parseAppConfig } from '../lambda/callback/config';
import { CookieSealer } from '../lambda/callback/cookies';

const KEY = 'k'.repeat(48);

async function main(): Promise<void> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = parseAppConfig(
    JSON.stringify({
      baseUrl: base,
      sandbox: true,
      region: 'eu-west-1',
      bucket: 'user-data-bucket',
      durationSeconds: 3600,
      cookieKeySecretId: 'cookie-key',
      providers: [
        {
          name: 'google',
          family: 'google',
          displayName: 'Google',
          clientId: '1-a.apps.googleusercontent.com',
          clientSecretId: 's',
          issuer: 'https://accounts.google.com',
          roleArn: 'arn:aws:iam::123456789012:role/google-users',
        },
      ],
    }),
  );
  const files = [
    { name: 'holiday-2026.jpg', size: 3_482_112, lastModified: new Date('2026-11-20T18:42:00Z') },
    { name: 'tax return.pdf', size: 248_331, lastModified: new Date('2026-11-02T09:15:00Z') },
    { name: 'notes.txt', size: 912, lastModified: new Date('2026-10-28T21:03:00Z') },
  ];
  const no = async () => {
    throw new Error('not used');
  };
  const app = createApp({
    config,
    clock: { now: () => Date.now() },
    secrets: { get: async () => KEY },
    idp: { start: no, finish: no },
    sts: { assume: no },
    storage: { list: async () => files, exists: no, presignGet: no, presignPut: no, delete: no },
  });
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', base);
    const cookies: Record<string, string> = {};
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const i = part.indexOf('=');
      if (i > 0) cookies[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
    app({ method: req.method ?? 'GET', path: url.pathname, rawQuery: url.search.slice(1), headers: {}, cookies, body: '', requestId: 'shot' }).then(
      (r) => {
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      },
    );
  });
  const session = CookieSealer.fromSecret(KEY).seal('session', {
    p: 'google',
    sub: '1001',
    dn: 'Alice Example',
    ak: 'ASIA',
    sk: 's',
    st: 't',
    exp: Date.now() + 3600_000,
    csrf: 'c'.repeat(43),
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    await context.addCookies([{ name: 'wif-session', value: session, url: base }]);
    const page = await context.newPage();
    await page.goto(`${base}/?uploaded=holiday-2026.jpg`);
    const out = path.join(__dirname, '..', 'docs', 'signed-in.png');
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
