/**
 * The sandbox's AWS SDK example, in the browser (bundled by ./bundle.ts, served by
 * ./routes.ts at /sandbox/sdk-example): gets the signed-in user's temporary credentials
 * from the app (same origin, the session cookie, the CSRF token) and calls S3 with the
 * AWS SDK for JavaScript: lists the user's folder, uploads a text file into it, and
 * shows S3 refusing another user's folder.
 *
 * Everything shown comes from S3 or the user and goes in as text (textContent), never HTML.
 */
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ClientCredentialsResponse, ClientSessionResponse } from '../../common/cli-protocol';

/** The app's paths and header, from the page's `data-*` attributes (./routes.ts writes them). */
interface AppPaths {
  readonly session: string;
  readonly credentials: string;
  readonly csrfHeader: string;
}

/** An element the page must have. */
function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

function show(id: string, text: string): void {
  byId(id).textContent = text;
}

/** What an answer of the app's /api routes means here. */
function why(status: number): string {
  if (status === 404) return ' (client-side credentials are off: set app.clientCredentials)';
  if (status === 401) return ' (signed out: sign in again)';
  return '';
}

/** The session (`undefined` when signed out): its CSRF token unlocks the credentials. */
async function fetchSession(paths: AppPaths): Promise<ClientSessionResponse | undefined> {
  const res = await fetch(paths.session, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (res.status === 401) return undefined;
  if (!res.ok) throw new Error(`GET ${paths.session} answered ${res.status}${why(res.status)}.`);
  return (await res.json()) as ClientSessionResponse;
}

/** Fresh credentials and where the user's files are; a changed CSRF token is fetched again. */
function credentialSource(paths: AppPaths, session: ClientSessionResponse) {
  let csrfToken = session.csrfToken;
  const once = () =>
    fetch(paths.credentials, {
      credentials: 'same-origin',
      headers: { accept: 'application/json', [paths.csrfHeader]: csrfToken },
    });
  return async (): Promise<ClientCredentialsResponse> => {
    let res = await once();
    if (res.status === 403) {
      // The session was renewed in another tab: its token changed.
      const renewed = await fetchSession(paths);
      if (renewed) {
        csrfToken = renewed.csrfToken;
        res = await once();
      }
    }
    if (!res.ok) {
      throw new Error(`GET ${paths.credentials} answered ${res.status}${why(res.status)}.`);
    }
    return (await res.json()) as ClientCredentialsResponse;
  };
}

/** An S3 client that asks the app for fresh credentials whenever the current ones expire. */
function s3ClientFor(
  first: ClientCredentialsResponse,
  fetchCredentials: () => Promise<ClientCredentialsResponse>,
): S3Client {
  let unused: ClientCredentialsResponse | undefined = first;
  return new S3Client({
    region: first.region,
    ...(first.s3Endpoint ? { endpoint: first.s3Endpoint } : {}),
    forcePathStyle: first.forcePathStyle,
    credentials: async () => {
      const { credentials } = unused ?? (await fetchCredentials());
      unused = undefined;
      return {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        // The SDK asks again shortly before this.
        expiration: new Date(credentials.expiration),
      };
    },
  });
}

/** An SDK error's name (S3's error code, e.g. AccessDenied) and message. */
function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

async function listFiles(s3: S3Client, where: ClientCredentialsResponse): Promise<void> {
  const out = await s3.send(
    new ListObjectsV2Command({ Bucket: where.bucket, Prefix: where.prefix }),
  );
  const list = byId<HTMLUListElement>('list');
  const items = (out.Contents ?? []).map((object) => {
    const item = document.createElement('li');
    item.textContent = `${(object.Key ?? '').slice(where.prefix.length)} (${object.Size ?? 0} bytes)`;
    return item;
  });
  list.replaceChildren(...items);
  show(
    'list-status',
    items.length === 0
      ? 'No files yet.'
      : `${items.length} file${items.length === 1 ? '' : 's'}${out.IsTruncated ? ' (the first ones)' : ''}:`,
  );
}

async function main(): Promise<void> {
  const data = document.body.dataset;
  const paths: AppPaths = {
    session: data.sessionPath ?? '',
    credentials: data.credentialsPath ?? '',
    csrfHeader: data.csrfHeader ?? '',
  };
  const session = await fetchSession(paths);
  if (!session) {
    show('status', 'Sign in first.');
    byId('signed-out').hidden = false;
    return;
  }
  const fetchCredentials = credentialSource(paths, session);
  const where = await fetchCredentials();
  const s3 = s3ClientFor(where, fetchCredentials);

  show(
    'status',
    `Signed in with ${session.provider}${session.displayName ? ` as ${session.displayName}` : ''}; the AWS SDK in this page calls S3 with your own temporary credentials.`,
  );
  show('bucket', where.bucket);
  show('prefix', where.prefix);
  byId('files').hidden = false;
  await listFiles(s3, where);

  byId<HTMLFormElement>('upload').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId<HTMLInputElement>('name').value;
    const text = byId<HTMLTextAreaElement>('text').value;
    show('upload-result', `Uploading ${name}...`);
    s3.send(
      new PutObjectCommand({
        Bucket: where.bucket,
        Key: where.prefix + name,
        Body: text,
        ContentType: 'text/plain; charset=utf-8',
      }),
    )
      .then(() => {
        show('upload-result', `Uploaded ${name}`);
        return listFiles(s3, where);
      })
      .catch((err: unknown) => show('upload-result', `Upload failed: ${errorText(err)}`));
  });

  byId('other').addEventListener('click', () => {
    const prefix = `users/${where.provider}/someone-else/`;
    show('other-result', `Listing ${prefix}...`);
    s3.send(new ListObjectsV2Command({ Bucket: where.bucket, Prefix: prefix }))
      .then(() => show('other-result', `S3 listed ${prefix}: that should never happen.`))
      .catch((err: unknown) => show('other-result', `S3 refused: ${errorText(err)}`));
  });
}

main().catch((err: unknown) => show('status', `Something went wrong: ${errorText(err)}`));
