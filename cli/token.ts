import {
  CLI_PATHS,
  type CliTokenResponse,
  type ProcessCredentials,
  PROVIDER_NAME,
} from '../common/cli-protocol';
import { CliError } from './errors';
import { post } from './http';

/** What redeeming a sign-in code needs. */
export interface RedeemRequest {
  /** The app's origin. */
  readonly endpoint: string;
  readonly code: string;
  readonly verifier: string;
  /** The loopback callback URL, or `PASTE_REDIRECT_URI` in paste mode. */
  readonly redirectUri: string;
  readonly ca?: string;
  readonly timeoutMs: number;
}

/** A string with no whitespace or control characters (keys, tokens), at most `max` long. */
const isToken = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max && /^[!-~]+$/.test(value);

/** Printable text without line breaks: what may end up in the AWS config file or on screen. */
const isLine = (value: unknown, max: number): value is string =>
  typeof value === 'string' &&
  value.length > 0 &&
  value.length <= max &&
  !/[\u0000-\u001f\u007f]/.test(value);

/** Plain http(s) URL without spaces: the sandbox's S3 endpoint. */
function isHttpUrl(value: unknown): value is string {
  if (!isToken(value, 2048)) return false;
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * Checks a token response (from the app, or from the cache) and returns a copy with only
 * the contract's fields. Throws an `Error` naming the first bad field, never its value:
 * some fields are secrets.
 */
export function parseTokenResponse(value: unknown): CliTokenResponse {
  const bad = (field: string): never => {
    throw new Error(`field "${field}" is missing or malformed`);
  };
  if (typeof value !== 'object' || value === null) return bad('(top level)');
  const v = value as Record<string, unknown>;
  const c = v.credentials as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) return bad('credentials');
  if (c.Version !== 1) bad('credentials.Version');
  if (!isToken(c.AccessKeyId, 256)) bad('credentials.AccessKeyId');
  if (!isToken(c.SecretAccessKey, 1024)) bad('credentials.SecretAccessKey');
  if (!isToken(c.SessionToken, 16_384)) bad('credentials.SessionToken');
  if (!isToken(c.Expiration, 64) || !Number.isFinite(Date.parse(c.Expiration))) {
    bad('credentials.Expiration');
  }
  if (typeof v.provider !== 'string' || !PROVIDER_NAME.test(v.provider)) bad('provider');
  if (typeof v.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v.bucket)) {
    bad('bucket');
  }
  if (typeof v.region !== 'string' || !/^[a-z0-9-]{1,32}$/.test(v.region)) bad('region');
  if (!isLine(v.prefix, 1024)) bad('prefix');
  if (v.s3Endpoint !== undefined && !isHttpUrl(v.s3Endpoint)) bad('s3Endpoint');
  const credentials: ProcessCredentials = {
    Version: 1,
    AccessKeyId: c.AccessKeyId as string,
    SecretAccessKey: c.SecretAccessKey as string,
    SessionToken: c.SessionToken as string,
    Expiration: c.Expiration as string,
  };
  return {
    provider: v.provider as string,
    bucket: v.bucket as string,
    region: v.region as string,
    prefix: v.prefix as string,
    ...(v.s3Endpoint === undefined ? {} : { s3Endpoint: v.s3Endpoint as string }),
    credentials,
  };
}

/** Text from the app shown to the user: one line, printable, bounded. */
function shown(value: unknown): string {
  return typeof value === 'string'
    ? value.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 500)
    : '';
}

/**
 * Redeems a sign-in code at `POST /cli/token` with its PKCE verifier. Returns the checked
 * response, or throws a `CliError`: for a 400 it carries the app's `error_description`.
 */
export async function redeemCode(request: RedeemRequest): Promise<CliTokenResponse> {
  const url = new URL(CLI_PATHS.token, request.endpoint);
  const answer = await post({
    url,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: request.code,
      code_verifier: request.verifier,
      redirect_uri: request.redirectUri,
    }).toString(),
    ca: request.ca,
    timeoutMs: request.timeoutMs,
  });
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = undefined;
  }
  if (answer.status === 400) {
    const body = (json ?? {}) as Record<string, unknown>;
    const description = shown(body.error_description) || 'no reason given';
    const error = shown(body.error) || 'invalid_request';
    throw new CliError(`The app refused the sign-in: ${description} (${error}). Sign in again.`);
  }
  if (answer.status !== 200) {
    throw new CliError(
      `The app answered ${answer.status} to the token request (${url.origin}${url.pathname}); try again in a moment.`,
    );
  }
  if (json === undefined) {
    throw new CliError(
      `The app's token response is not JSON; check that --endpoint ${request.endpoint} is the app, then try again.`,
    );
  }
  try {
    return parseTokenResponse(json);
  } catch (error) {
    throw new CliError(
      `The app's token response is not valid (${(error as Error).message}); try again, and report it if it persists.`,
    );
  }
}
