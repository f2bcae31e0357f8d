import { AsyncLocalStorage } from 'node:async_hooks';
import { createBudget, OutOfTimeError, storageWithin } from './budget';
import type { AppContext, AppDeps } from './context';
import type { HttpRequest, HttpResponse } from './http';
import { type Budget, SignInError } from './ports';
import { createResponses, isServiceUnavailable, RETRY_AFTER_SECONDS } from './responses';
import { dispatch, routeTable } from './routes';
import { SessionCookies } from './session';
import * as views from './views';

/**
 * The callback app's core: routes, session and pages. Pure apart from the injected
 * ports, so it runs the same in Lambda, in the sandbox and in tests.
 */

export type { AppDeps } from './context';

/**
 * Answers one request.
 * @param deadline when the invocation times out, ms since the epoch by the app's clock;
 *   every outbound call is budgeted so the answer goes out before it (budget.ts).
 *   Without it, each call just gets its own cap.
 */
export type App = (request: HttpRequest, deadline?: number) => Promise<HttpResponse>;

export function createApp(deps: AppDeps): App {
  // The routes call the ports without the request (the file routes cannot pass it), so
  // each call finds its request's budget in the async context the request runs in.
  const budgets = new AsyncLocalStorage<Budget>();
  const noDeadline = createBudget(deps.clock);
  const ctx = createContext(deps, () => budgets.getStore() ?? noDeadline);
  const routes = routeTable(ctx);
  return (req: HttpRequest, deadline?: number): Promise<HttpResponse> =>
    budgets.run(createBudget(deps.clock, deadline), async () => {
      let res: HttpResponse;
      try {
        res = await dispatch(ctx, routes, req);
      } catch (err) {
        res = errorResponse(ctx, err, req);
      }
      // HEAD answers carry no body, error pages included.
      if (req.method === 'HEAD') res.body = '';
      return res;
    });
}

/** What every route shares: the ports (each call within the request's budget), pages, cookies. */
export function createContext(deps: AppDeps, budget: () => Budget): AppContext {
  const { config } = deps;
  const providers = new Map(config.providers.map((p) => [p.name, p]));
  // On plain http (the sandbox) cookies cannot be Secure or __Host-, and HSTS makes no sense.
  const secure = config.baseUrl.startsWith('https://');
  return {
    config,
    clock: deps.clock,
    idp: {
      start: (provider, uri, b) => deps.idp.start(provider, uri, b ?? budget()),
      finish: (provider, url, expected, uri, b) =>
        deps.idp.finish(provider, url, expected, uri, b ?? budget()),
    },
    sts: { assume: (provider, identity, b) => deps.sts.assume(provider, identity, b ?? budget()) },
    storage: storageWithin(deps.storage, budget),
    log: deps.log ?? (() => undefined),
    providers,
    buttons: config.providers.map((p) => ({ name: p.name, displayName: p.displayName })),
    responses: createResponses(config, secure),
    sessions: new SessionCookies({
      config,
      secrets: { get: (id, b) => deps.secrets.get(id, b ?? budget()) },
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
  if (err instanceof OutOfTimeError) {
    // A dependency too slow for the deadline: "later", where the function would have timed out.
    log({ requestId: req.requestId, event: 'out_of_time', detail: err.message });
    return responses.respond(
      503,
      views.messagePage('This is taking too long', 'Please try again in a moment.'),
      { headers: { 'retry-after': RETRY_AFTER_SECONDS } },
    );
  }
  // A busy or failing S3 or Secrets Manager: a readable 503, never a 500 (dependency-busy-503).
  if (isServiceUnavailable(err)) {
    log({ requestId: req.requestId, event: 'dependency_unavailable', error: errorName(err) });
    return responses.unavailable();
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

const errorName = (err: unknown): string =>
  (err as { name?: string } | undefined)?.name ?? 'unknown';
