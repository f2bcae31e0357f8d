import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import {
  CLI_PATHS,
  type CliTokenResponse,
  isValidCodeChallenge,
  isValidCodeVerifier,
  isValidState,
  loopbackRedirectUri,
  parseLoopbackPort,
  PASTE_REDIRECT_URI,
  s256,
} from '../../common/cli-protocol';
import { listenOnHost } from '../../local/listen';

/** A code the fake broker handed out, and what redeeming it must match. */
interface IssuedCode {
  readonly challenge: string;
  readonly redirectUri: string;
  readonly provider: string;
  used: boolean;
}

/** A token answer a test forces instead of the normal one. */
export interface ForcedAnswer {
  readonly status: number;
  readonly body: unknown;
  /** Never answer at all (a hanging app). */
  readonly hang?: boolean;
}

/**
 * The app's side of the CLI sign-in, just enough for the command's tests, on 127.0.0.1:
 * `/cli/authorize` acts as if the user signed in and pressed Allow (or Deny) at once, and
 * `/cli/token` checks the grant like the app does (PKCE S256, redirect_uri, single use).
 */
export class FakeBroker {
  /** What the user chooses on the consent page. */
  decision: 'allow' | 'deny' = 'allow';
  /** How long the codes are (the app's are up to about 4 KB). */
  codeLength = 120;
  /** The credentials' expiry for the next token answer. */
  expiration: () => string = () => new Date(Date.now() + 3600_000).toISOString();
  /** The providers it has, when set; like the app, it refuses others to the loopback. */
  providers: string[] | undefined;
  /** Sent as `s3Endpoint` when set (the sandbox). */
  s3Endpoint: string | undefined;
  /** Replaces the token endpoint's answer when set. */
  forced: ForcedAnswer | undefined;
  /** Every authorize request's query, in order. */
  readonly authorizeRequests: URLSearchParams[] = [];
  /** Every token request's form, in order. */
  readonly tokenRequests: URLSearchParams[] = [];
  /** Every token answer that carried credentials, in order. */
  readonly issued: CliTokenResponse[] = [];
  private readonly codes = new Map<string, IssuedCode>();
  private readonly hanging: http.ServerResponse[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
  ) {}

  /** Starts a broker on 127.0.0.1 (https when given a certificate and key). */
  static async start(tls?: { cert: string; key: string }): Promise<FakeBroker> {
    const ready: { broker?: FakeBroker } = {};
    const handler: http.RequestListener = (req, res) => ready.broker?.handle(req, res);
    const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    const port = await listenOnHost(server, 0);
    ready.broker = new FakeBroker(server, `${tls ? 'https' : 'http'}://127.0.0.1:${port}`);
    return ready.broker;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.endpoint);
    if (req.method === 'GET' && url.pathname === CLI_PATHS.authorize) {
      return this.authorize(url.searchParams, res);
    }
    if (req.method === 'POST' && url.pathname === CLI_PATHS.token) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const ok = req.headers['content-type'] === 'application/x-www-form-urlencoded';
        const form = new URLSearchParams(ok ? Buffer.concat(chunks).toString('utf8') : '');
        this.token(form, res);
      });
      return;
    }
    res.writeHead(404).end();
  }

  private authorize(query: URLSearchParams, res: http.ServerResponse): void {
    this.authorizeRequests.push(query);
    const state = query.get('state');
    const challenge = query.get('code_challenge');
    const paste = query.get('mode') === 'paste';
    const port = parseLoopbackPort(query.get('port'));
    if (
      !isValidState(state) ||
      !isValidCodeChallenge(challenge) ||
      query.get('code_challenge_method') !== 'S256' ||
      (!paste && port === undefined)
    ) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('bad authorize request');
      return;
    }
    const redirectUri = paste ? PASTE_REDIRECT_URI : loopbackRedirectUri(port as number);
    const back = new URL(redirectUri);
    back.searchParams.set('state', state);
    const provider = query.get('provider');
    if (provider !== null && this.providers && !this.providers.includes(provider)) {
      const description = `There is no sign-in provider "${provider}" here; use one of: ${this.providers.join(', ')}.`;
      if (paste) res.writeHead(400, { 'content-type': 'text/plain' }).end(description);
      else {
        back.searchParams.set('error', 'invalid_request');
        back.searchParams.set('error_description', description);
        res.writeHead(302, { location: back.toString() }).end();
      }
      return;
    }
    if (this.decision === 'deny') {
      if (paste) res.writeHead(403, { 'content-type': 'text/plain' }).end('access denied');
      else res.writeHead(302, { location: `${back}&error=access_denied` }).end();
      return;
    }
    let code = '';
    while (code.length < this.codeLength) code += `${randomBytes(48).toString('base64url')}.`;
    code = code.slice(0, this.codeLength).replace(/\.$/, 'x');
    this.codes.set(code, {
      challenge,
      redirectUri,
      provider: query.get('provider') ?? 'google',
      used: false,
    });
    if (paste) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(code);
      return;
    }
    back.searchParams.set('code', code);
    res.writeHead(302, { location: back.toString() }).end();
  }

  private token(form: URLSearchParams, res: http.ServerResponse): void {
    this.tokenRequests.push(form);
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (this.forced?.hang) {
      this.hanging.push(res);
      return;
    }
    if (this.forced) return answer(this.forced.status, this.forced.body);
    const refuse = (error: string, description: string) =>
      answer(400, { error, error_description: description });
    if (form.get('grant_type') !== 'authorization_code') {
      return refuse('unsupported_grant_type', 'grant_type must be authorization_code.');
    }
    const issued = this.codes.get(form.get('code') ?? '');
    if (!issued || issued.used) return refuse('invalid_grant', 'The code is unknown or used.');
    issued.used = true;
    if (form.get('redirect_uri') !== issued.redirectUri) {
      return refuse('invalid_grant', 'redirect_uri does not match the authorize request.');
    }
    const verifier = form.get('code_verifier');
    if (!isValidCodeVerifier(verifier) || s256(verifier) !== issued.challenge) {
      return refuse('invalid_grant', 'The code verifier does not match the code challenge.');
    }
    const n = this.issued.length + 1;
    const body: CliTokenResponse = {
      provider: issued.provider,
      bucket: 'wif-test-bucket',
      region: 'eu-west-1',
      prefix: `users/${issued.provider}/subject-${n}/`,
      ...(this.s3Endpoint ? { s3Endpoint: this.s3Endpoint } : {}),
      credentials: {
        Version: 1,
        AccessKeyId: `ASIAFAKE${String(n).padStart(8, '0')}`,
        SecretAccessKey: `secret${n}${randomBytes(16).toString('hex')}`,
        SessionToken: `session${n}${randomBytes(32).toString('base64url')}`,
        Expiration: this.expiration(),
      },
    };
    this.issued.push(body);
    answer(200, body);
  }
}
