import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Files served by the app itself (no third-party hosts, no-referrer-leak). They sit in
 * `static/` next to this module in the source tree and next to the bundle in the
 * Lambda asset (copied at bundling time).
 */
const TYPES: Record<string, string> = {
  'app.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
};
/** The command-line tool, built into the asset's `static/` at bundling time, not in the source tree. */
const COMMAND = 'wif-login.cjs';
const cache = new Map<string, string>();

/** A file of `static/`, read once; undefined when it is not there. */
function read(name: string): string | undefined {
  let body = cache.get(name);
  if (body === undefined) {
    try {
      body = readFileSync(join(__dirname, 'static', name), 'utf8');
    } catch {
      return undefined;
    }
    cache.set(name, body);
  }
  return body;
}

/** A page asset served at /static/<name>. */
export function staticAsset(name: string): { body: string; contentType: string } | undefined {
  // Own keys only: `constructor` or `__proto__` would find Object.prototype's members.
  if (!Object.hasOwn(TYPES, name)) return undefined;
  const body = read(name);
  return body === undefined ? undefined : { body, contentType: TYPES[name] };
}

/** The command-line tool served at /cli/wif-login.cjs; undefined in a build without it. */
export function commandFile(): string | undefined {
  return read(COMMAND);
}
