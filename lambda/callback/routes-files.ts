import type { AppContext, FormHandler, PageHandler, SessionGuard } from './context';
import type { HttpRequest, HttpResponse } from './http';
import { checkFolder, checkStoredName } from './names';
import { BadListTokenError, type FileListing, isListToken } from './ports';
import { credentialsOf, expiresSoon, isExpiredCredentials, prefixOf } from './session';
import { PRESIGN_SECONDS } from './uploads';
import * as views from './views';

/** The signed-in user's files as pages: the list by folder and page, downloading, deleting. */

/** Entries (files and folders) per page of the list; more are one "Next page" away. */
export const FILES_PER_PAGE = 100;

/**
 * The notices the files page can show, by the code in `?done=` (messages-from-app): the text
 * is the app's, never the URL's. A name is only shown when the listing on screen has it.
 */
const NOTICES: ReadonlyMap<string, (listedName?: string) => string> = new Map([
  [
    'uploaded',
    (name?: string) => (name === undefined ? 'Your file was uploaded.' : `Uploaded ${name}.`),
  ],
  // A deleted file is in no listing, so no name can be vouched for: none is shown.
  ['deleted', () => 'The file was deleted.'],
]);

export interface FileRoutes {
  /** GET /?prefix=&after=: the sign-in page, or one page of one folder of the user's files. */
  readonly home: PageHandler;
  /** GET /download?name=: a redirect to a presigned GET of one of the user's own files. */
  readonly download: PageHandler;
  /** POST /delete: deletes one of the user's own files, back to its folder. */
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

  /** A page about the user's files, with a way back to them instead of to sign-in. */
  const filesMessage = (status: number, title: string, message: string, folder = '') =>
    r.respond(
      status,
      views.messagePage(title, message, {
        link: { href: views.folderHref(folder), label: 'Back to your files' },
      }),
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
    const prefix = prefixOf(session);
    // folder-within-prefix: the S3 prefix is always the own prefix + a checked folder.
    const folder = checkFolder(query.get('prefix'), prefix);
    if (!folder.ok) return filesMessage(400, 'Invalid folder', folder.reason);
    const after = query.get('after') ?? undefined;
    const badPage = () =>
      filesMessage(
        400,
        'Invalid page',
        'This link to a page of your files is not valid. Start again from the first page.',
        folder.name,
      );
    if (after !== undefined && !isListToken(after)) return badPage();
    let listing: FileListing;
    try {
      listing = await storage.list(credentialsOf(session), {
        prefix,
        folder: folder.name,
        maxKeys: FILES_PER_PAGE,
        continuationToken: after,
      });
    } catch (err) {
      if (isExpiredCredentials(err)) return sessionExpired();
      if (err instanceof BadListTokenError) return badPage();
      throw err;
    }
    return r.respond(
      200,
      views.filesPage({
        providerName: ctx.providers.get(session.p)!.displayName,
        displayName: session.dn,
        folder: folder.name,
        files: listing.files.map((f) => ({
          ...f,
          downloadable: checkStoredName(f.name, prefix, 'download').ok,
          deletable: checkStoredName(f.name, prefix, 'delete').ok,
        })),
        folders: listing.folders.map((name) => ({ name, usable: checkFolder(name, prefix).ok })),
        nextPage: listing.nextToken,
        firstPage: after === undefined,
        csrf: session.csrf,
        expiresAt: session.exp,
        notice: notice(query, listing),
      }),
    );
  }

  /** messages-from-app: a known code's text; a name only if this very listing has it. */
  function notice(query: URLSearchParams, listing: FileListing): string | undefined {
    const text = NOTICES.get(query.get('done') ?? '');
    if (!text) return undefined;
    const listed = listing.files.find((f) => f.name === query.get('name'));
    return text(listed && views.shownName(views.baseName(listed.name)));
  }

  async function download(req: HttpRequest): Promise<HttpResponse> {
    const session = await sessions.readSession(req);
    if (!session || expiresSoon(session, clock.now())) return signInAgain(req);
    const prefix = prefixOf(session);
    // listed-names-round-trip: the exact key the listing showed, never normalised.
    const check = checkStoredName(
      new URLSearchParams(req.rawQuery).get('name'),
      prefix,
      'download',
    );
    if (!check.ok) return filesMessage(400, 'Invalid file name', check.reason);
    const key = prefix + check.name;
    const creds = credentialsOf(session);
    // other-users-object-404: missing and forbidden look the same.
    if (!(await storage.exists(creds, key)))
      return filesMessage(404, 'Not found', 'There is no such file.');
    return r.redirect(
      await storage.presignGet(creds, key, views.baseName(check.name), PRESIGN_SECONDS),
    );
  }

  const remove: FormHandler = async (req, form, session) => {
    const prefix = prefixOf(session);
    const check = checkStoredName(views.formName(form), prefix, 'delete');
    if (!check.ok) return filesMessage(400, 'Invalid file name', check.reason);
    // listed-names-round-trip: byte-exact, so a `..` segment stays in the key (S3 keys are flat).
    const key = prefix + check.name;
    // Back to the name's folder, or to the top when that folder cannot be opened.
    const inFolder = checkFolder(views.folderOf(check.name), prefix);
    const folder = inFolder.ok ? inFolder.name : '';
    const creds = credentialsOf(session);
    // delete-missing-404: S3 answers a DeleteObject of a missing key with success, so the app
    // asks first (as the user: missing and forbidden look the same) and never claims a deletion.
    if (!(await storage.exists(creds, key))) {
      log({ requestId: req.requestId, event: 'delete_missing', provider: session.p });
      return filesMessage(
        404,
        'Not found',
        'That file was not found, so nothing was deleted. It may have been deleted already.',
        folder,
      );
    }
    await storage.delete(creds, key);
    log({ requestId: req.requestId, event: 'deleted', provider: session.p });
    return r.redirect(views.folderHref(folder, { done: 'deleted' }), [], 303);
  };

  const deleteGuard: SessionGuard = {
    allowExpiring: false,
    signedOut: signInAgain,
    forbidden: () => r.notAllowed(),
  };

  return { home, download, remove, deleteGuard };
}
