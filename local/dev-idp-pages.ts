import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import escapeHtml from 'escape-html';
import type { DevIdpFamily } from './dev-idp-endpoints';

/**
 * The dev IdP's users and pages: "sign in as any user", stable provider-shaped ids
 * derived from the user name, and the HTML of the sign-in and error pages.
 */

/** Cap on a user name; above the app's 255-byte subject limit so that limit can be tested. */
export const MAX_USER_NAME_LENGTH = 512;

/**
 * A user name typed on the sign-in page, or why not. Anything printable is allowed (`|`,
 * `.`, even `/` or `*`, so tests can check that the app refuses unsafe subjects);
 * surrounding white space is trimmed; control characters are refused.
 */
export function parseUserName(raw: unknown): { user: string } | { error: string } {
  if (typeof raw !== 'string' || raw.trim() === '') return { error: 'Enter a user name.' };
  const user = raw.trim();
  if (user.length > MAX_USER_NAME_LENGTH) {
    return { error: `A user name has at most ${MAX_USER_NAME_LENGTH} characters.` };
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(user)) {
    return { error: 'A user name cannot contain control characters.' };
  }
  return { user };
}

const digest = (label: string, user: string): Buffer =>
  createHash('sha256').update(`${label}\0${user}`).digest();

/** Decimal digits from a hash, `length` of them. */
function digits(hash: Buffer, length: number): string {
  let n = BigInt(`0x${hash.toString('hex')}`);
  let out = '';
  for (let i = 0; i < length; i++) {
    out += String(n % 10n);
    n /= 10n;
  }
  return out;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Google `sub`: 21 decimal digits starting with 1, like Google's. */
export const googleSubject = (user: string): string => `1${digits(digest('google', user), 20)}`;

/** Amazon `user_id`: `amzn1.account.` and 28 upper-case characters, like Amazon's. */
export function amazonUserId(user: string): string {
  const hash = digest('amazon', user);
  let out = '';
  for (let i = 0; i < 28; i++) out += BASE32[hash[i] % 32];
  return `amzn1.account.${out}`;
}

/** Facebook app-scoped `id`: 17 decimal digits starting with 1. */
export const facebookId = (user: string): string => `1${digits(digest('facebook', user), 16)}`;

/**
 * The subject the dev IdP gives `user` in `family`: Google's numeric `sub`, the user name
 * itself as the generic OIDC `sub`, Amazon's `user_id`, Facebook's `id`. Stable across
 * restarts, so a user's S3 prefix stays the same.
 */
export function subjectOf(family: DevIdpFamily, user: string): string {
  switch (family) {
    case 'google':
      return googleSubject(user);
    case 'oidc':
      return user;
    case 'amazon':
      return amazonUserId(user);
    case 'facebook':
      return facebookId(user);
  }
}

/** A display e-mail address; only ever shown, never a key. */
export function emailOf(user: string): string {
  const local = user
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '.')
    .replace(/^\.+|\.+$/g, '');
  return `${local || 'user'}@example.com`;
}

export const FAMILY_LABELS: Record<DevIdpFamily, string> = {
  google: 'Google (sandbox)',
  oidc: 'Dev OpenID provider (sandbox)',
  amazon: 'Login with Amazon (sandbox)',
  facebook: 'Facebook (sandbox)',
};

const STYLE = [
  'body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;line-height:1.5}',
  'label{display:block;font-weight:600;margin-top:1rem}',
  'input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}',
  'button{font-size:1rem;padding:.4rem .8rem;margin:.5rem .5rem 0 0}',
  '.alert{border-left:4px solid #b00020;padding:.5rem;background:#fdecee}',
  '.quick{margin-top:1.5rem}',
  'small{color:#555}',
].join('');
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/**
 * No script at all; the one inline style by hash. Forms may post only here, and the
 * redirects that follow a sign-in may only go to loopback apps (Chrome applies
 * form-action to them).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self' https://127.0.0.1:* http://127.0.0.1:*",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers of every page the dev IdP renders. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function layout(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${content}
</main>
</body>
</html>
`;
}

export interface SignInPage {
  readonly family: DevIdpFamily;
  /** Where the form posts (same origin). */
  readonly action: string;
  /** Hidden fields posted with the form. */
  readonly hidden?: Readonly<Record<string, string>>;
  /** Who asks: the client's id or name. */
  readonly client: string;
  /** Where the browser goes afterwards (its origin is shown). */
  readonly redirectUri?: string;
  /** Prefilled user name (`login_hint` or the last attempt). */
  readonly user?: string;
  readonly error?: string;
}

/** The "sign in as any user" page: one text field, quick buttons for alice and bob. */
export function renderSignInPage(page: SignInPage): string {
  const label = FAMILY_LABELS[page.family];
  let destination = '';
  if (page.redirectUri) {
    try {
      destination = new URL(page.redirectUri).origin;
    } catch {
      destination = page.redirectUri;
    }
  }
  const hidden = Object.entries(page.hidden ?? {})
    .map(
      ([name, value]) =>
        `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`,
    )
    .join('\n');
  const error = page.error
    ? `<p class="alert" id="user-error" role="alert">${escapeHtml(page.error)}</p>`
    : '';
  const described = page.error ? ' aria-describedby="user-error" aria-invalid="true"' : '';
  return layout(
    `Sign in - ${label}`,
    `<h1>Sign in to ${escapeHtml(label)}</h1>
<p>Client <code>${escapeHtml(page.client)}</code>${
      destination ? ` will receive your identity at <code>${escapeHtml(destination)}</code>` : ''
    }.</p>
<p><small>Local development identity provider: there are no passwords, type any user name.</small></p>
${error}
<form id="sign-in" method="post" action="${escapeHtml(page.action)}">
${hidden}
<label for="user">User name</label>
<input id="user" name="user" type="text" required maxlength="${MAX_USER_NAME_LENGTH}" autocomplete="username" spellcheck="false" autocapitalize="none" autofocus value="${escapeHtml(page.user ?? '')}"${described}>
<button type="submit">Sign in</button>
<div class="quick" role="group" aria-label="Quick sign-in">
<button type="submit" name="as" value="alice" formnovalidate>Sign in as alice</button>
<button type="submit" name="as" value="bob" formnovalidate>Sign in as bob</button>
</div>
</form>`,
  );
}

/** A page that explains a refused request; never redirects anywhere. */
export function renderErrorPage(title: string, message: string, detail?: string): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p class="alert" role="alert">${escapeHtml(message)}</p>
${detail ? `<p><small>${escapeHtml(detail)}</small></p>` : ''}`,
  );
}

export function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': Buffer.byteLength(html) });
  res.end(html);
}
