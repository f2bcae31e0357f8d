import type { AppContext, FormHandler, PageHandler, SessionGuard } from './context';
import type { HttpRequest, HttpResponse } from './http';
import { checkObjectName } from './names';
import { credentialsOf, expiresSoon, isExpiredCredentials, prefixOf } from './session';
import { PRESIGN_SECONDS } from './uploads';
import * as views from './views';

/** The signed-in user's files as pages: the list, downloading, deleting. */

export interface FileRoutes {
  /** GET /: the sign-in page, or the signed-in user's files. */
  readonly home: PageHandler;
  /** GET /download?name=: a redirect to a presigned GET of one of the user's own files. */
  readonly download: PageHandler;
  /** POST /delete: deletes one of the user's own files, back to the list. */
  readonly remove: FormHandler;
  /** Who may delete: a live session; pages otherwise. */
  readonly deleteGuard: SessionGuard;
}

export function fileRoutes(ctx: AppContext): FileRoutes {
  const { clock, log, storage, buttons, responses: r, sessions } = ctx;

  /** The sign-in page with a notice that the session expired; its cookie goes. */
  const sessionExpired = () =>
    r.respond(200, views.homePage(buttons, 'Your session expired. Please sign in again.'), {
      cookies: [sessions.clearSession()],
    });

  /** 401 for pages that need a live session; a stale session cookie goes. */
  const signInAgain = (req: HttpRequest) =>
    r.respond(
      401,
      views.messagePage('Please sign in', 'Your session has ended. Please sign in again.'),
      { cookies: sessions.hasSessionCookie(req) ? [sessions.clearSession()] : [] },
    );

  async function home(req: HttpRequest): Promise<HttpResponse> {
    const session = await sessions.readSession(req);
    const query = new URLSearchParams(req.rawQuery);
    if (!session) {
      const hadCookie = sessions.hasSessionCookie(req);
      return r.respond(
        200,
        views.homePage(
          buttons,
          hadCookie ? 'Your session ended. Please sign in again.' : undefined,
        ),
        { cookies: hadCookie ? [sessions.clearSession()] : [] },
      );
    }
    // expired-session-signs-in-again: expired credentials mean signing in again, never a 500.
    if (expiresSoon(session, clock.now())) return sessionExpired();
    let files;
    try {
      files = await storage.list(credentialsOf(session), prefixOf(session));
    } catch (err) {
      if (isExpiredCredentials(err)) return sessionExpired();
      throw err;
    }
    const uploaded = query.get('uploaded');
    const deleted = query.get('deleted');
    return r.respond(
      200,
      views.filesPage({
        providerName: ctx.providers.get(session.p)!.displayName,
        displayName: session.dn,
        files,
        csrf: session.csrf,
        expiresAt: session.exp,
        notice: uploaded ? `Uploaded ${uploaded}.` : deleted ? `Deleted ${deleted}.` : undefined,
      }),
    );
  }

  async function download(req: HttpRequest): Promise<HttpResponse> {
    const session = await sessions.readSession(req);
    if (!session || expiresSoon(session, clock.now())) return signInAgain(req);
    const check = checkObjectName(new URLSearchParams(req.rawQuery).get('name'), prefixOf(session));
    if (!check.ok) return r.page(400, 'Invalid file name', check.reason);
    const key = prefixOf(session) + check.name;
    const creds = credentialsOf(session);
    // other-users-object-404: missing and forbidden look the same.
    if (!(await storage.exists(creds, key)))
      return r.page(404, 'Not found', 'There is no such file.');
    return r.redirect(await storage.presignGet(creds, key, check.name, PRESIGN_SECONDS));
  }

  const remove: FormHandler = async (req, form, session) => {
    const check = checkObjectName(form.get('name'), prefixOf(session));
    if (!check.ok) return r.page(400, 'Invalid file name', check.reason);
    await storage.delete(credentialsOf(session), prefixOf(session) + check.name);
    log({ requestId: req.requestId, event: 'deleted', provider: session.p });
    return r.redirect(`/?deleted=${encodeURIComponent(check.name)}`, [], 303);
  };

  const deleteGuard: SessionGuard = {
    allowExpiring: false,
    signedOut: signInAgain,
    forbidden: () => r.notAllowed(),
  };

  return { home, download, remove, deleteGuard };
}
