import { decodeEntities } from '../../local/scripted-browser';

/** What a browser would send back from a files page: the names and links its controls carry. */
export interface FilesPageControls {
  /** The `name` each download link sends, decoded as the app's query parser does. */
  readonly downloads: string[];
  /** The name each delete form sends (`name`, or `name_pct` decoded once). */
  readonly deletes: string[];
  /** Each folder row's link (path and query). */
  readonly folders: string[];
  /** The "Next page" link, when there is one. */
  readonly next?: string;
  /** The notice's text, when there is one. */
  readonly notice?: string;
}

export function filesPageControls(body: string): FilesPageControls {
  const downloads = [...body.matchAll(/href="(\/download\?[^"]*)"/g)].map((m) =>
    new URL(decodeEntities(m[1]), 'https://app.test').searchParams.get('name')!,
  );
  // A name with a control character travels percent-encoded, as `name_pct`.
  const deletes = [
    ...body.matchAll(/<input type="hidden" name="(name|name_pct)" value="([^"]*)">/g),
  ].map((m) => (m[1] === 'name' ? decodeEntities(m[2]) : decodeURIComponent(decodeEntities(m[2]))));
  const folders = [...body.matchAll(/<tr class="folder">\s*<td><a href="([^"]*)"/g)].map((m) =>
    decodeEntities(m[1]),
  );
  const next = /<a rel="next" href="([^"]*)">Next page<\/a>/.exec(body)?.[1];
  const notice = /<p class="notice" role="status">([^<]*)<\/p>/.exec(body)?.[1];
  return {
    downloads,
    deletes,
    folders,
    ...(next ? { next: decodeEntities(next) } : {}),
    ...(notice ? { notice: decodeEntities(notice) } : {}),
  };
}

/** The download link (path and query) whose `name` is exactly `name`. */
export function downloadHref(body: string, name: string): string | undefined {
  return [...body.matchAll(/href="(\/download\?[^"]*)"/g)]
    .map((m) => decodeEntities(m[1]))
    .find((href) => new URL(href, 'https://app.test').searchParams.get('name') === name);
}
