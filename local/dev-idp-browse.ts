import { fetchTrusting } from './dev-idp-fetch';

/**
 * The scripted browser of the dev IdP's clients: a cookie jar (host-only, path-scoped), the
 * dev IdP's sign-in form read from its own markup, and the walk from an authorization URL
 * through redirects and the form post to the redirect URI.
 */

/** Cookies of one scripted browser session (host-only, path-scoped, as RFC 6265 says). */
export class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string; expires: number }>();

  store(url: URL, setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires = Infinity;
      for (const attribute of attributes) {
        const [key, ...rest] = attribute.split('=');
        const v = rest.join('=').trim();
        switch (key.trim().toLowerCase()) {
          case 'path':
            if (v.startsWith('/')) path = v;
            break;
          case 'expires':
            expires = Math.min(expires, Date.parse(v));
            break;
          case 'max-age':
            expires = Math.min(expires, Date.now() + Number(v) * 1000);
            break;
        }
      }
      const key = `${name};${path}`;
      if (value === '' || expires <= Date.now()) this.cookies.delete(key);
      else this.cookies.set(key, { value, path, expires });
    }
  }

  header(url: URL): string | undefined {
    const now = Date.now();
    const pairs: string[] = [];
    for (const [key, cookie] of this.cookies) {
      if (cookie.expires <= now) continue;
      const p = cookie.path;
      const matches =
        url.pathname === p ||
        (url.pathname.startsWith(p) && (p.endsWith('/') || url.pathname[p.length] === '/'));
      if (matches) pairs.push(`${key.slice(0, key.indexOf(';'))}=${cookie.value}`);
    }
    return pairs.length ? pairs.join('; ') : undefined;
  }
}

const HTML_ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
};
const unescapeHtml = (s: string): string =>
  s.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => HTML_ENTITIES[entity]);

/** The dev IdP's sign-in form: action and hidden fields (the page is the dev IdP's own markup). */
function parseSignInForm(html: string, pageUrl: URL): { action: URL; fields: URLSearchParams } {
  const form = /<form\b[^>]*\bid="sign-in"[^>]*>/.exec(html);
  const action = form && /\baction="([^"]*)"/.exec(form[0]);
  if (!action) {
    const alert = /<p[^>]*role="alert"[^>]*>([\s\S]*?)<\/p>/.exec(html);
    const reason = alert
      ? unescapeHtml(alert[1].replace(/<[^>]*>/g, '')).trim()
      : 'no sign-in form';
    throw new Error(`dev IdP page at ${pageUrl.pathname}: ${reason}`);
  }
  const fields = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.append(unescapeHtml(m[1]), unescapeHtml(m[2]));
  }
  return { action: new URL(unescapeHtml(action[1]), pageUrl), fields };
}

const isAt = (url: URL, target: URL): boolean =>
  url.origin === target.origin && url.pathname === target.pathname;

export interface BrowseOptions {
  /** The CA to trust (PEM); or give `fetch`. */
  readonly ca?: string | Buffer;
  /** @default - fetchTrusting(ca) */
  readonly fetch?: typeof fetch;
  /** Where the flow ends: the redirect URI in the authorization URL. */
  readonly redirectUri: string;
  /**
   * The browser's cookies, to sign in several times in one browser.
   * @default - a new, empty jar
   */
  readonly jar?: CookieJar;
}

/**
 * A scripted browser: opens `authorizationUrl`, follows redirects with its own cookie jar,
 * submits the dev IdP's sign-in form as `user`, and returns the URL the IdP finally sends
 * the browser to (the redirect URI with `code` and `state`, or with `error`). It never
 * requests the redirect URI itself.
 */
export async function browseSignIn(
  authorizationUrl: URL | string,
  user: string,
  options: BrowseOptions,
): Promise<URL> {
  const fetcher = options.fetch ?? (options.ca ? fetchTrusting(options.ca) : undefined);
  if (!fetcher) throw new TypeError('browseSignIn needs ca or fetch');
  const target = new URL(options.redirectUri);
  const jar = options.jar ?? new CookieJar();
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body: URLSearchParams | undefined;
  let submitted = false;
  for (let hop = 0; hop < 12; hop++) {
    if (isAt(url, target)) return url;
    const headers = new Headers({ accept: 'text/html' });
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetcher(url, { method, headers, body, redirect: 'manual' });
    jar.store(url, response.headers.getSetCookie());
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      url = new URL(location, url);
      method = 'GET';
      body = undefined;
      continue;
    }
    const text = await response.text();
    if (response.status !== 200 || submitted) {
      let reason = `answered ${response.status}`;
      const alert = /role="alert"[^>]*>([\s\S]*?)<\/(?:p|div)>/.exec(text);
      if (alert)
        reason += `: ${unescapeHtml(alert[1].replace(/<[^>]*>/g, ' '))
          .replace(/\s+/g, ' ')
          .trim()}`;
      throw new Error(`dev IdP ${url.pathname} ${reason}`);
    }
    const form = parseSignInForm(text, url);
    form.fields.set('user', user);
    url = form.action;
    method = 'POST';
    body = form.fields;
    submitted = true;
  }
  throw new Error('dev IdP sign-in: too many redirects');
}
