import {
  type ClientCredentialsResponse,
  type ClientSessionResponse,
  CSRF_HEADER,
} from '../../common/cli-protocol';
import type { AppContext, PageHandler } from './context';
import type { HttpRequest } from './http';
import { expiresSoon, safeEqual, userLocation } from './session';

/**
 * Client-side credentials (client-credentials-same-origin): when the stage turns them on, a
 * signed-in page of the app's own origin reads its session's CSRF token from /api/session
 * and, sending it back as `X-CSRF-Token`, the session's temporary credentials from
 * /api/credentials, to call S3 with the AWS SDK directly. The same IAM role and prefix as
 * the app's own pages: nothing more than the user already has.
 */

export interface ApiRoutes {
  /** GET /api/session: who is signed in, and the CSRF token for /api/credentials. */
  readonly session: PageHandler;
  /** GET /api/credentials: the session's temporary credentials and where the files are. */
  readonly credentials: PageHandler;
}

export function apiRoutes(ctx: AppContext): ApiRoutes {
  const { config, clock, log, responses: r, sessions } = ctx;
  const origin = new URL(config.baseUrl).origin;

  const error = (status: number, code: string, description: string) =>
    r.json(status, { error: code, error_description: description });

  /**
   * Only the app's own pages: a browser says where a request comes from in `Sec-Fetch-Site`
   * and, for cross-origin requests, `Origin`; either pointing elsewhere is refused.
   */
  const sameOrigin = (req: HttpRequest): boolean => {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
    const from = req.headers['origin'];
    return from === undefined || from === origin;
  };

  async function liveSession(req: HttpRequest) {
    const session = await sessions.readSession(req);
    return session && !expiresSoon(session, clock.now()) ? session : undefined;
  }

  const session: PageHandler = async (req) => {
    if (!sameOrigin(req)) return error(403, 'forbidden', 'Only the app’s own pages may ask.');
    const s = await liveSession(req);
    if (!s) return error(401, 'signed_out', 'Sign in first.');
    const body: ClientSessionResponse = {
      provider: s.p,
      ...(s.dn ? { displayName: s.dn } : {}),
      expiresAt: new Date(s.exp).toISOString(),
      csrfToken: s.csrf,
    };
    return r.json(200, body);
  };

  const credentials: PageHandler = async (req) => {
    if (!sameOrigin(req)) return error(403, 'forbidden', 'Only the app’s own pages may ask.');
    const s = await liveSession(req);
    if (!s) return error(401, 'signed_out', 'Sign in first.');
    const token = req.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !safeEqual(token, s.csrf)) {
      log({ requestId: req.requestId, event: 'client_credentials_refused', reason: 'csrf' });
      return error(403, 'forbidden', `Send the session's CSRF token as ${CSRF_HEADER}.`);
    }
    // The credentials travel only in this body, never in a URL or a log (no-credentials-in-urls).
    log({ requestId: req.requestId, event: 'client_credentials_issued', provider: s.p });
    const body: ClientCredentialsResponse = {
      ...userLocation(config, s.p, s.sub),
      credentials: {
        accessKeyId: s.ak,
        secretAccessKey: s.sk,
        sessionToken: s.st,
        expiration: new Date(s.exp).toISOString(),
      },
      forcePathStyle: Boolean(config.endpoints?.s3),
    };
    return r.json(200, body);
  };

  return { session, credentials };
}
