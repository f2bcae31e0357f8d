import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';
import { HttpError, readForm } from './dev-idp-http';
import {
  googleSubject,
  parseUserName,
  renderErrorPage,
  renderSignInPage,
  sendPage,
} from './dev-idp-pages';

/** Who signs in at the dev IdP's OpenID providers: their "sign in as any user" page. */

/**
 * Who signs in as `user` at an oidc-provider issuer: the account id is the `sub`. Google's
 * is numeric, so its user names are remembered (in memory: only userinfo needs them back,
 * and its access tokens do not outlive the process either).
 */
export class OidcAccounts {
  private readonly googleUsers = new Map<string, string>();

  accountIdOf(family: 'google' | 'oidc', user: string): string {
    if (family === 'oidc') return user;
    const sub = googleSubject(user);
    this.googleUsers.set(sub, user);
    return sub;
  }

  userOf(family: 'google' | 'oidc', accountId: string): string {
    return family === 'oidc' ? accountId : (this.googleUsers.get(accountId) ?? accountId);
  }
}

/** GET and POST `<mount>/interaction/<uid>`: the sign-in page of an oidc-provider issuer. */
export async function interaction(
  provider: Provider,
  family: 'google' | 'oidc',
  mount: string,
  accounts: OidcAccounts,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const uid = url.pathname.slice(`${mount}/interaction/`.length);
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return sendPage(
      res,
      400,
      renderErrorPage(
        'Sign-in expired',
        'This sign-in is no longer pending (or was started in another browser). Go back to the app and start again.',
      ),
    );
  }
  if (details.uid !== uid) {
    return sendPage(
      res,
      400,
      renderErrorPage('Sign-in refused', 'This is not the pending sign-in.'),
    );
  }
  if (details.prompt.name !== 'login') {
    return sendPage(
      res,
      500,
      renderErrorPage(
        'Unexpected prompt',
        `The dev IdP does not handle the ${details.prompt.name} prompt.`,
      ),
    );
  }
  const params = details.params;
  const page = {
    family,
    action: url.pathname,
    client: String(params.client_id ?? ''),
    redirectUri: typeof params.redirect_uri === 'string' ? params.redirect_uri : undefined,
  };
  if (req.method === 'GET') {
    const hint = typeof params.login_hint === 'string' ? params.login_hint : '';
    return sendPage(res, 200, renderSignInPage({ ...page, user: hint }));
  }
  if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
  const form = await readForm(req);
  const parsed = parseUserName(form.get('as') ?? form.get('user'));
  if ('error' in parsed) {
    return sendPage(
      res,
      400,
      renderSignInPage({ ...page, user: form.get('user') ?? '', error: parsed.error }),
    );
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: accounts.accountIdOf(family, parsed.user), remember: false } },
    { mergeWithLastSubmission: false },
  );
}
