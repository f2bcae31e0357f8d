import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';

/**
 * A scripted browser for the integration tests and benchmarks: a cookie jar per host, manual
 * redirects (so every hop can be asserted), HTML forms submitted like a browser.
 * TLS is verified against the sandbox CA only.
 */

export interface Page {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
  /** Every response on the way, redirects included. */
  readonly hops: { url: string; status: number; location?: string }[];
}

interface Cookie {
  value: string;
  path: string;
  expires?: number;
}

export class ScriptedBrowser {
  private readonly jar = new Map<string, Map<string, Cookie>>();
  private readonly dispatcher: Dispatcher;

  constructor(ca: string) {
    this.dispatcher = new Agent({ connect: { ca } });
  }

  /** Cookies for a URL, as `name=value` pairs. */
  cookieHeader(url: string): string {
    const u = new URL(url);
    const now = Date.now();
    return [...(this.jar.get(u.host)?.entries() ?? [])]
      .filter(
        ([, c]) => u.pathname.startsWith(c.path) && (c.expires === undefined || c.expires > now),
      )
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }

  cookie(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name)?.value;
  }

  setCookie(url: string, name: string, value: string): void {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, { value, path: '/' });
  }

  private store(url: string, setCookies: string[]): void {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    const jar = this.jar.get(host)!;
    for (const sc of setCookies) {
      const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      let path = '/';
      let expires: number | undefined;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'path') path = v;
        if (k.toLowerCase() === 'max-age') expires = Date.now() + Number(v) * 1000;
      }
      if (expires !== undefined && expires <= Date.now()) jar.delete(name);
      else jar.set(name, { value, path, expires });
    }
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; headers: Headers; body: string }> {
    const cookie = this.cookieHeader(url);
    const res = await undiciFetch(url, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: { ...(cookie ? { cookie } : {}), ...init.headers },
      redirect: 'manual',
      dispatcher: this.dispatcher,
    });
    this.store(url, res.headers.getSetCookie());
    return {
      status: res.status,
      headers: res.headers as unknown as Headers,
      body: await res.text(),
    };
  }

  /** Follows redirects (at most 10) like a browser: 303/302 become GET. */
  async go(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    const hops: Page['hops'] = [];
    let current = url;
    let method = init.method ?? 'GET';
    let body = init.body;
    let headers = init.headers;
    for (let i = 0; i < 10; i++) {
      const res = await this.request(current, { method, body, headers });
      const location = res.headers.get('location') ?? undefined;
      hops.push({ url: current, status: res.status, location });
      if (res.status >= 300 && res.status < 400 && location) {
        current = new URL(location, current).toString();
        if (res.status !== 307 && res.status !== 308) {
          method = 'GET';
          body = undefined;
          headers = undefined;
        }
        continue;
      }
      return { url: current, status: res.status, headers: res.headers, body: res.body, hops };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** Submits the first form of `page` (or the one whose action matches), with `fields` set. */
  async submit(page: Page, fields: Record<string, string>, actionMatch?: RegExp): Promise<Page> {
    const forms = [...page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
    const form =
      forms.find((f) => !actionMatch || actionMatch.test(attr(f[1], 'action') ?? '')) ?? forms[0];
    if (!form) throw new Error(`no form on ${page.url}:\n${page.body.slice(0, 500)}`);
    const action = new URL(
      decodeEntities(attr(form[1], 'action') ?? page.url),
      page.url,
    ).toString();
    const method = (attr(form[1], 'method') ?? 'GET').toUpperCase();
    const data = new URLSearchParams();
    for (const input of form[2].matchAll(/<input\b([^>]*)>/gi)) {
      const name = attr(input[1], 'name');
      const type = (attr(input[1], 'type') ?? 'text').toLowerCase();
      if (!name || type === 'submit' || type === 'file') continue;
      data.set(name, decodeEntities(attr(input[1], 'value') ?? ''));
    }
    for (const [k, v] of Object.entries(fields)) data.set(k, v);
    if (method === 'GET') {
      const u = new URL(action);
      u.search = data.toString();
      return this.go(u.toString());
    }
    return this.go(action, {
      method,
      body: data.toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: new URL(page.url).origin,
      },
    });
  }
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attrs);
  return m ? (m[2] ?? m[3] ?? m[4]) : undefined;
}

export function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
