import escapeHtml from 'escape-html';
import type { StoredObject } from './ports';

/** Server-rendered pages. Every echoed value goes through `e()` (idp-error-escaped). */

const e = (value: unknown): string => escapeHtml(String(value ?? ''));

export interface ProviderButton {
  readonly name: string;
  readonly displayName: string;
}

function layout(title: string, main: string, options: { script?: boolean } = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)} · Private files</title>
<link rel="stylesheet" href="/static/app.css">
${options.script ? '<script src="/static/app.js" defer></script>' : ''}
</head>
<body>
<header><a href="/" class="brand">Private files</a></header>
<main id="main">
${main}
</main>
<footer><a href="/privacy">Privacy</a></footer>
</body>
</html>`;
}

export function homePage(providers: readonly ProviderButton[], notice?: string): string {
  const buttons = providers
    .map(
      (p) =>
        `<li><a class="button provider-${e(p.name)}" href="/login/${encodeURIComponent(p.name)}">Sign in with ${e(p.displayName)}</a></li>`,
    )
    .join('\n');
  return layout(
    'Sign in',
    `<h1>Your private files</h1>
${notice ? `<p class="notice" role="status">${e(notice)}</p>` : ''}
<p>Sign in to see, upload and download your own files. Nobody else can read them: each account has its own folder, enforced by AWS IAM.</p>
<ul class="providers">
${buttons}
</ul>`,
  );
}

export interface FilesView {
  readonly providerName: string;
  readonly displayName?: string;
  readonly files: readonly StoredObject[];
  readonly csrf: string;
  readonly notice?: string;
  readonly expiresAt: number;
}

export function filesPage(v: FilesView): string {
  const rows = v.files
    .map(
      (f) => `<tr>
<td><a href="/download?name=${encodeURIComponent(f.name)}">${e(f.name)}</a></td>
<td class="size">${e(formatSize(f.size))}</td>
<td><time datetime="${e(f.lastModified.toISOString())}">${e(f.lastModified.toISOString().slice(0, 16).replace('T', ' '))}</time></td>
<td><form method="post" action="/delete"><input type="hidden" name="csrf" value="${e(v.csrf)}"><input type="hidden" name="name" value="${e(f.name)}"><button type="submit" aria-label="Delete ${e(f.name)}">Delete</button></form></td>
</tr>`,
    )
    .join('\n');
  const table =
    v.files.length === 0
      ? '<p id="empty">No files yet. Upload your first one below.</p>'
      : `<table>
<caption>Your files</caption>
<thead><tr><th scope="col">Name</th><th scope="col" class="size">Size</th><th scope="col">Modified (UTC)</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return layout(
    'Your files',
    `<h1>Your files</h1>
<p class="who">Signed in with ${e(v.providerName)}${v.displayName ? ` as ${e(v.displayName)}` : ''}.</p>
${v.notice ? `<p class="notice" role="status">${e(v.notice)}</p>` : ''}
${table}
<section aria-labelledby="upload-heading">
<h2 id="upload-heading">Upload</h2>
<form id="upload" method="post" action="/upload-url" data-csrf="${e(v.csrf)}">
<input type="hidden" name="csrf" value="${e(v.csrf)}">
<label for="file">File</label>
<input id="file" name="file" type="file" required>
<button type="submit">Upload</button>
<progress id="progress" max="100" value="0" hidden></progress>
<p id="upload-status" role="status" aria-live="polite"></p>
</form>
<noscript><p>Uploading needs JavaScript (files go straight to storage). Listing, downloading and deleting work without it.</p></noscript>
</section>
<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="${e(v.csrf)}"><button type="submit">Sign out</button></form>`,
    { script: true },
  );
}

export function messagePage(
  title: string,
  message: string,
  options: { retry?: boolean } = {},
): string {
  return layout(
    title,
    `<h1>${e(title)}</h1>
<p>${e(message)}</p>
<p><a class="button" href="/">${options.retry === false ? 'Home' : 'Back to sign-in'}</a></p>`,
  );
}

export function signInFailedPage(
  providerName: string,
  error: string,
  description?: string,
): string {
  return layout(
    'Sign-in failed',
    `<h1>Sign-in failed</h1>
<p>${e(providerName)} did not sign you in: <code>${e(error)}</code>${description ? ` (${e(description)})` : ''}.</p>
<p><a class="button" href="/">Try again</a></p>`,
  );
}

export function privacyPage(providers: readonly ProviderButton[]): string {
  return layout(
    'Privacy',
    `<h1>Privacy</h1>
<p>You sign in with ${e(providers.map((p) => p.displayName).join(', ') || 'an identity provider')}. We receive your account's identifier from that provider and, for display only, your name. We keep no user database: your identifier names your private folder, and your session lives only in an encrypted cookie in your browser until it expires or you sign out.</p>
<p>The files you upload are stored in your own folder, readable only with your own temporary credentials. Deleted files are removed, and older versions expire automatically.</p>
<p>We do not sell or share your data, and we use no third-party scripts, trackers or analytics.</p>`,
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}
