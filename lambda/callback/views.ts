import escapeHtml from 'escape-html';
import { CONTROL } from './names';
import { isListToken, type StoredObject } from './ports';

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

/**
 * The sign-in page. With `returnTo` (a path already checked by `safeReturnTo`), each
 * button comes back there once signed in.
 */
export function homePage(
  providers: readonly ProviderButton[],
  notice?: string,
  returnTo?: string,
): string {
  const query = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
  const buttons = providers
    .map(
      (p) =>
        `<li><a class="button provider-${e(p.name)}" href="${e(`/login/${encodeURIComponent(p.name)}${query}`)}">Sign in with ${e(p.displayName)}</a></li>`,
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

/** A file of the listing, and which of its controls its name allows (listed-names-round-trip). */
export interface FileRow extends StoredObject {
  readonly downloadable: boolean;
  readonly deletable: boolean;
}

/** A sub-folder of the listing, relative to the user's prefix; `usable` when it can be opened. */
export interface FolderRow {
  readonly name: string;
  readonly usable: boolean;
}

export interface FilesView {
  readonly providerName: string;
  readonly displayName?: string;
  /** The folder shown, relative to the user's prefix: `''` for the top, else ending in `/`. */
  readonly folder: string;
  readonly folders: readonly FolderRow[];
  readonly files: readonly FileRow[];
  /** S3's continuation token for the next page, when there is one. */
  readonly nextPage?: string;
  /** Whether this is the folder's first page (else a link back to it). */
  readonly firstPage: boolean;
  readonly csrf: string;
  readonly notice?: string;
  readonly expiresAt: number;
}

/** The last segment of a name (`a/b.txt` -> `b.txt`). */
export const baseName = (name: string): string => name.slice(name.lastIndexOf('/') + 1);

/** The folder a name is in (`a/b.txt` -> `a/`, `b.txt` -> `''`). */
export const folderOf = (name: string): string => name.slice(0, name.lastIndexOf('/') + 1);

/**
 * The files page of a folder. Every value is percent-encoded as a whole, so a name's own
 * `/`, `?`, `&`, `#`, `+` or `%41` comes back to the app exactly (listed-names-round-trip).
 */
export function folderHref(folder: string, extra: Readonly<Record<string, string>> = {}): string {
  const params = { ...(folder ? { prefix: folder } : {}), ...extra };
  const query = Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return query ? `/?${query}` : '/';
}

const UNUSABLE_FOLDER =
  'This folder name has control characters or a "." or ".." segment: use the AWS CLI or an SDK for what is in it.';
const NO_DOWNLOAD =
  'A browser cannot download a name with a "." or ".." segment (it would ask for another file): use the AWS CLI or an SDK to download it.';

/** Control characters, shown as their visible symbols (U+2400...) and never raw. */
const CONTROLS = new RegExp(CONTROL.source, 'g');

/** A name as the page shows it: C0 controls and DEL as their symbols, C1 controls as U+FFFD. */
export const shownName = (name: string): string =>
  name.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? '\u2421' : '\ufffd';
  });

/**
 * The delete form's name field. A browser cannot carry every character verbatim in a form
 * (it turns CR and LF into CRLF, NUL into U+FFFD), so a name with a control character goes
 * percent-encoded in `name_pct` instead of `name`; {@link formName} decodes it exactly once.
 */
function nameField(name: string): string {
  if (!CONTROL.test(name)) return `<input type="hidden" name="name" value="${e(name)}">`;
  return `<input type="hidden" name="name_pct" value="${e(encodeURIComponent(name))}">`;
}

/** The name a delete form sent: `name` as it is, else `name_pct` decoded once; else undefined. */
export function formName(form: URLSearchParams): string | undefined {
  const plain = form.get('name');
  if (plain !== null) return plain;
  const encoded = form.get('name_pct');
  if (encoded === null) return undefined;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

function folderRow(f: FolderRow, current: string): string {
  const label = `<span class="name">${e(shownName(f.name.slice(current.length)))}</span>`;
  return `<tr class="folder">
<td>${f.usable ? `<a href="${e(folderHref(f.name))}">${label}</a>` : `${label} <small>${e(UNUSABLE_FOLDER)}</small>`}</td>
<td class="size">folder</td>
<td></td>
<td></td>
</tr>`;
}

function fileRow(f: FileRow, csrf: string): string {
  const shown = shownName(baseName(f.name));
  const label = `<span class="name">${e(shown)}</span>`;
  const time = `<time datetime="${e(f.lastModified.toISOString())}">${e(f.lastModified.toISOString().slice(0, 16).replace('T', ' '))}</time>`;
  const name = f.downloadable
    ? `<a href="/download?name=${e(encodeURIComponent(f.name))}">${label}</a>`
    : `${label} <small>${e(NO_DOWNLOAD)}</small>`;
  const remove = f.deletable
    ? `<form method="post" action="/delete"><input type="hidden" name="csrf" value="${e(csrf)}">${nameField(f.name)}<button type="submit" aria-label="Delete ${e(shown)}">Delete</button></form>`
    : '';
  return `<tr>
<td>${name}</td>
<td class="size">${e(formatSize(f.size))}</td>
<td>${time}</td>
<td>${remove}</td>
</tr>`;
}

/** "Your files / a / b": each level a link, the current one plain. */
function breadcrumbs(folder: string): string {
  if (!folder) return '';
  const parts = folder.slice(0, -1).split('/');
  const links = parts.map((part, i) => {
    const path = parts.slice(0, i + 1).join('/') + '/';
    const label = `<span class="name">${e(part)}</span>`;
    return i === parts.length - 1
      ? `<span aria-current="page">${label}</span>`
      : `<a href="${e(folderHref(path))}">${label}</a>`;
  });
  return `<nav class="breadcrumbs" aria-label="Folder"><a href="/">Your files</a> / ${links.join(' / ')}</nav>`;
}

export function filesPage(v: FilesView): string {
  const count = v.folders.length + v.files.length;
  const rows = [
    ...v.folders.map((f) => folderRow(f, v.folder)),
    ...v.files.map((f) => fileRow(f, v.csrf)),
  ].join('\n');
  const caption = v.folder ? `Files in ${e(v.folder)}` : 'Your files';
  const table =
    count === 0
      ? v.folder || !v.firstPage
        ? '<p id="empty">Nothing here.</p>'
        : '<p id="empty">No files yet. Upload your first one below.</p>'
      : `<table>
<caption>${caption}</caption>
<thead><tr><th scope="col">Name</th><th scope="col" class="size">Size</th><th scope="col">Modified (UTC)</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  // Never a silently shortened list: a full page says there is more, and links to it.
  const links = [
    v.firstPage ? '' : `<a href="${e(folderHref(v.folder))}">First page</a>`,
    // A token the app would refuse back (S3 issues printable ASCII only) gets no link.
    v.nextPage === undefined || !isListToken(v.nextPage)
      ? ''
      : `<a rel="next" href="${e(folderHref(v.folder, { after: v.nextPage }))}">Next page</a>`,
  ].filter(Boolean);
  // Never a silently shortened list: a full page says there is more, and links to it.
  const pager =
    links.length || v.nextPage !== undefined
      ? `<nav class="pager" aria-label="Pages">
${v.nextPage === undefined ? '' : '<p>More files than fit on this page.</p>\n'}<p>${links.join(' ')}</p>
</nav>`
      : '';
  return layout(
    'Your files',
    `<h1>Your files</h1>
<p class="who">Signed in with ${e(v.providerName)}${v.displayName ? ` as ${e(v.displayName)}` : ''}.</p>
${v.notice ? `<p class="notice" role="status">${e(v.notice)}</p>` : ''}
${breadcrumbs(v.folder)}
${table}
${pager}
<section aria-labelledby="upload-heading">
<h2 id="upload-heading">Upload${v.folder ? ` to <span class="name">${e(v.folder)}</span>` : ''}</h2>
<form id="upload" method="post" action="/upload-url" data-csrf="${e(v.csrf)}" data-folder="${e(v.folder)}">
<input type="hidden" name="csrf" value="${e(v.csrf)}">
<input type="hidden" name="folder" value="${e(v.folder)}">
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

/** What the consent page asks about: a CLI sign-in waiting on this computer or elsewhere. */
export interface ConsentView {
  readonly providerName: string;
  readonly displayName?: string;
  /** The user's own prefix, which the credentials reach. */
  readonly prefix: string;
  /** When the credentials the command line would get expire, ms since the epoch. */
  readonly expiresAt: number;
  /** The CLI's loopback port, or undefined in paste mode (a code to copy instead). */
  readonly port?: number;
  readonly state: string;
  readonly codeChallenge: string;
  readonly csrf: string;
}

/**
 * "Allow the command line on this computer to use your files?" (consent-not-forgeable): a
 * CSRF-protected form; framing is refused by the headers every page carries.
 */
export function consentPage(v: ConsentView): string {
  const hidden = (name: string, value: string) =>
    `<input type="hidden" name="${e(name)}" value="${e(value)}">`;
  const until = new Date(v.expiresAt).toISOString().slice(0, 16).replace('T', ' ');
  const where =
    v.port === undefined
      ? 'A command line that is waiting for a code (you will copy it there)'
      : `A program on this computer, listening at <code>127.0.0.1:${e(v.port)}</code>,`;
  return layout(
    'Allow the command line?',
    `<h1>Allow the command line on this computer to use your files?</h1>
<p class="who">Signed in with ${e(v.providerName)}${v.displayName ? ` as ${e(v.displayName)}` : ''}.</p>
<p>${where} asks for temporary AWS credentials for your folder <code class="name">${e(v.prefix)}</code>. With them it can list, read, upload and delete your files until ${e(until)} UTC, and nothing else.</p>
<p><strong>Only allow this if you just ran <code>wif-login</code> yourself.</strong> If you did not, deny it.</p>
<form method="post" action="/cli/consent" class="consent">
${hidden('csrf', v.csrf)}
${v.port === undefined ? hidden('mode', 'paste') : hidden('port', String(v.port))}
${hidden('state', v.state)}
${hidden('code_challenge', v.codeChallenge)}
${hidden('code_challenge_method', 'S256')}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

/** Paste mode: the code to copy into the waiting command line. */
export function cliCodePage(code: string, maxAgeSeconds: number): string {
  return layout(
    'Copy this code',
    `<h1>Copy this code into your command line</h1>
<p>It works for ${e(maxAgeSeconds)} seconds, and only for the command line that asked for it.</p>
<p><strong>Paste it only into a command line you started yourself. Never send it to anyone:</strong> whoever started the sign-in can use your files with it.</p>
<p><textarea id="cli-code" readonly rows="6" cols="60" aria-label="Code">${e(code)}</textarea></p>`,
  );
}

export function messagePage(
  title: string,
  message: string,
  options: { retry?: boolean; link?: { readonly href: string; readonly label: string } } = {},
): string {
  const link = options.link ?? {
    href: '/',
    label: options.retry === false ? 'Home' : 'Back to sign-in',
  };
  return layout(
    title,
    `<h1>${e(title)}</h1>
<p>${e(message)}</p>
<p><a class="button" href="${e(link.href)}">${e(link.label)}</a></p>`,
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
