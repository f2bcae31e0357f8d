import type { AppContext, AppDeps } from './context';
import type { HttpRequest, HttpResponse } from './http';
import { SignInError } from './ports';
import { createResponses } from './responses';
import { dispatch, routeTable } from './routes';
import { SessionCookies } from './session';

/**
 * The callback app's core: routes, session and pages. Pure apart from the injected
 * ports, so it runs the same in Lambda, in the sandbox and in tests.
 */

export type { AppDeps } from './context';

export type App = (request: HttpRequest) => Promise<HttpResponse>;

export function createApp(deps: AppDeps): App {
  const ctx = createContext(deps);
  const routes = routeTable(ctx);
  return async (req: HttpRequest): Promise<HttpResponse> => {
    try {
      const res = await dispatch(ctx, routes, req);
      if (req.method === 'HEAD') res.body = '';
      return res;
    } catch (err) {
      return errorResponse(ctx, err, req);
    }
  };
}

function createContext(deps: AppDeps): AppContext {
  const { config } = deps;
  const providers = new Map(config.providers.map((p) => [p.name, p]));
  // On plain http (the sandbox) cookies cannot be Secure or __Host-, and HSTS makes no sense.
  const secure = config.baseUrl.startsWith('https://');
  return {
    config,
    clock: deps.clock,
    idp: deps.idp,
    sts: deps.sts,
    storage: deps.storage,
    log: deps.log ?? (() => undefined),
    providers,
    buttons: config.providers.map((p) => ({ name: p.name, displayName: p.displayName })),
    responses: createResponses(config, secure),
    sessions: new SessionCookies({
      config,
      secrets: deps.secrets,
      secure,
      providers: new Set(providers.keys()),
    }),
  };
}

/** What a route threw: a sign-in failure's own page, anything else a generic 500. */
function errorResponse(ctx: AppContext, err: unknown, req: HttpRequest): HttpResponse {
  const { log, responses, sessions } = ctx;
  if (err instanceof SignInError) {
    log({ requestId: req.requestId, event: 'sign_in_error', kind: err.kind, detail: err.detail });
    const page = responses.signInError(err, sessions.clearLogin(), sessions.clearSession());
    if (page) return page;
  }
  // Details only in logs (idp-failure-502); the page stays generic.
  log({
    requestId: req.requestId,
    event: 'error',
    error: err instanceof Error ? err.name : 'unknown',
    message: err instanceof Error ? err.message.slice(0, 300) : undefined,
  });
  return responses.internalError();
}
