import { createHash } from 'node:crypto';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AppConfig, ProviderSettings } from '../../common/app-config';
import { providerFacts } from '../../common/provider-facts';
import { createBudget, MIN_CALL_MS } from './budget';
import {
  type Budget,
  type Clock,
  SignInError,
  type SignedInIdentity,
  type TemporaryCredentials,
  type TokenExchange,
} from './ports';

/**
 * STS `AssumeRoleWithWebIdentity` for the callback app: the IdP's token in, the user's
 * temporary credentials out, every failure turned into a `SignInError` whose `detail`
 * is safe to log (session-name-safe, session-duration-at-synth, foreign-token-refused, expired-token-restarts-sign-in, sts-retry-then-503, oversized-token-refused, provider-id-oauth-only, credentials-never-exposed).
 */

/** STS refuses longer `WebIdentityToken`s; we refuse them first, without a call (oversized-token-refused). */
export const MAX_WEB_IDENTITY_TOKEN_LENGTH = 20_000;

const DEFAULT_MAX_ATTEMPTS = 3;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 1_000;
/** One attempt at most (the client's request timeout); less when the request's budget says so. */
const ATTEMPT_CAP_MS = 6_000;

export interface TokenExchangeDeps {
  readonly config: AppConfig;
  /** @default - a client for config.region / config.endpoints.sts that never signs and never retries */
  readonly sts?: STSClient;
  /** @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1), for the backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Calls per sign-in for transient failures. @default 3 */
  readonly maxAttempts?: number;
  /** For the budget of calls made without one. @default - the system clock */
  readonly clock?: Clock;
}

export function createTokenExchange(deps: TokenExchangeDeps): TokenExchange {
  const { config } = deps;
  const sts = deps.sts ?? createStsClient(config);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = deps.random ?? Math.random;
  const maxAttempts = Math.max(1, deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const noDeadline = createBudget(deps.clock ?? { now: () => Date.now() });

  return {
    async assume(
      provider: ProviderSettings,
      identity: SignedInIdentity,
      budget: Budget = noDeadline,
    ): Promise<TemporaryCredentials> {
      const token = identity.webIdentityToken;
      if (token.length > MAX_WEB_IDENTITY_TOKEN_LENGTH) {
        throw new SignInError(
          'too_large',
          'The sign-in token from your identity provider is too large for AWS.',
          `${provider.name}: web identity token has ${token.length} characters, STS accepts at most ${MAX_WEB_IDENTITY_TOKEN_LENGTH}; not sent`,
        );
      }
      // STS needs ProviderId to know who validates an opaque access token; an OIDC ID
      // token names its issuer itself and must never carry one (provider-id-oauth-only).
      const familyProviderId = providerFacts(provider.family, provider.issuer).providerId;
      const providerId = familyProviderId ? (provider.providerId ?? familyProviderId) : undefined;
      const input = {
        RoleArn: provider.roleArn,
        RoleSessionName: roleSessionName(provider.name, identity.subject),
        WebIdentityToken: token,
        ...(providerId ? { ProviderId: providerId } : {}),
        DurationSeconds: config.durationSeconds,
        ...(config.sessionPolicyArns?.length
          ? { PolicyArns: config.sessionPolicyArns.map((arn) => ({ arn })) }
          : {}),
      };

      // Each attempt and backoff fits the request's budget: past it, 503 with Retry-After
      // right away rather than the function timing out (sts-retry-then-503).
      const outOfTime = (attempts: number, what: string) =>
        new SignInError(
          'sts_unavailable',
          UNAVAILABLE_MESSAGE,
          `${provider.name}: STS AssumeRoleWithWebIdentity ${what} after ${attempts} attempt(s): no time left before the request deadline`,
        );
      for (let attempt = 1; ; attempt++) {
        const ms = budget.callMs(ATTEMPT_CAP_MS);
        if (ms === 0) throw outOfTime(attempt - 1, attempt === 1 ? 'not tried' : 'not tried again');
        const abortSignal = budget.abortAfter(ms);
        let output;
        try {
          output = await sts.send(new AssumeRoleWithWebIdentityCommand(input), { abortSignal });
        } catch (err) {
          if (abortSignal.aborted) throw outOfTime(attempt, 'stopped');
          const outcome = classify(err);
          if (outcome.kind === 'retry' && attempt < maxAttempts) {
            // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
            // spreads the retries of many Lambdas hitting the same throttle.
            const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
            const delay = Math.floor(random() * ceiling);
            // No backoff that leaves too little for the attempt after it.
            if (budget.leftMs() - delay < MIN_CALL_MS) throw outOfTime(attempt, 'not tried again');
            await sleep(delay);
            continue;
          }
          throw toSignInError(outcome, err, provider, attempt, token);
        }
        const c = output.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
          // A malformed answer parses to `Credentials: undefined` without an error (docs/architecture.md, wire facts).
          throw new SignInError(
            'sts_unavailable',
            UNAVAILABLE_MESSAGE,
            `${provider.name}: STS answered without complete credentials (request ${output.$metadata?.requestId ?? 'unknown'})`,
          );
        }
        return {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
          expiration: new Date(c.Expiration).getTime(),
        };
      }
    },
  };
}

/**
 * A `RoleSessionName` that always matches STS's `[\w+=,.@-]{2,64}` (session-name-safe): the
 * provider name plus a SHA-256 prefix of provider and subject. Stable for one user, so
 * CloudTrail entries of one user line up; never built from an email or other raw claim.
 */
export function roleSessionName(provider: string, subject: string): string {
  const label = provider.replace(/[^\w+=,.@-]/g, '_').slice(0, 32);
  // Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
  const digest = createHash('sha256')
    .update(`${provider.length}:${provider}:${subject}`, 'utf8')
    .digest('hex');
  // 32 + 1 + 31 = 64 characters at most; 124 bits of hash.
  return `${label}-${digest.slice(0, 31)}`;
}

/**
 * The default STS client. `AssumeRoleWithWebIdentity` is modelled `smithy.api#noAuth`
 * in SDK v3 (client-sts `_defaultSTSHttpAuthSchemeProvider` lists noAuth first), so the
 * request goes out unsigned and no credential provider is consulted. We pin that down:
 * - `authSchemePreference: ['noAuth']` so AWS_AUTH_SCHEME_PREFERENCE cannot move sigv4a first;
 * - `useGlobalEndpoint: false` because the legacy global endpoint's rules carry a sigv4
 *   auth scheme, which would replace noAuth;
 * - `credentials` that fail loudly, so a future SDK change can never silently sign with
 *   the Lambda's own role (which must not matter to the exchange) or hunt for
 *   credentials in the sandbox, where there are none.
 */
export function createStsClient(config: AppConfig): STSClient {
  return new STSClient({
    region: config.region,
    ...(config.endpoints?.sts ? { endpoint: config.endpoints.sts } : {}),
    authSchemePreference: ['noAuth'],
    useGlobalEndpoint: false,
    credentials: async () => {
      throw new Error(
        'AssumeRoleWithWebIdentity is an unsigned call; the STS client must never need credentials.',
      );
    },
    // We retry ourselves, with our own error mapping (sts-retry-then-503).
    maxAttempts: 1,
    // Caps per attempt; the request's budget shortens them near the deadline.
    requestHandler: {
      connectionTimeout: 3_000,
      requestTimeout: 6_000,
      throwOnRequestTimeout: true,
    },
  });
}

const UNAVAILABLE_MESSAGE = 'AWS sign-in is not available right now. Please try again in a moment.';

type Outcome =
  | { kind: 'retry'; reason: string }
  | { kind: Exclude<SignInError['kind'], 'sts_unavailable'>; reason: string; message: string }
  | { kind: 'sts_unavailable'; reason: string };

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);
const SERVER_TROUBLE = new Set([
  'InternalFailure',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);
const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function isNetworkCode(f: ErrorFacts): boolean {
  if (f.code !== undefined) return NETWORK_CODES.has(f.code);
  // The SDK's retry middleware turns anything that is not `instanceof Error` (a Node error
  // from another realm, as under Jest's VM) into `new Error('AWS SDK error wrapper for ...')`,
  // keeping only the text: the code then survives only in the message.
  const words = f.message.match(/\b[A-Z][A-Z_]{3,}\b/g) ?? [];
  return f.message.startsWith('AWS SDK error wrapper') && words.some((w) => NETWORK_CODES.has(w));
}

interface ErrorFacts {
  name: string;
  message: string;
  status?: number;
  code?: string;
  requestId?: string;
}

function facts(err: unknown): ErrorFacts {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(err),
    status: e.$metadata?.httpStatusCode,
    code: typeof e.code === 'string' ? e.code : typeof e.Code === 'string' ? e.Code : undefined,
    requestId: e.$metadata?.requestId,
  };
}

/** The decision table of foreign-token-refused, expired-token-restarts-sign-in, sts-retry-then-503, oversized-token-refused (see the report for kind -> HTTP status). */
function classify(err: unknown): Outcome {
  const f = facts(err);
  // The SDK names modelled errors `<Code>Exception`; unmodelled ones keep the wire code.
  const name = f.name.replace(/Exception$/, '');
  switch (name) {
    case 'PackedPolicyTooLarge':
      return {
        kind: 'too_large',
        reason: name,
        message: 'The session policies for this sign-in are too large for AWS.',
      };
    case 'AccessDenied':
      return { kind: 'not_allowed', reason: name, message: NOT_ALLOWED_MESSAGE };
    case 'InvalidIdentityToken':
      // A token minted for another client id: retrying or signing in again cannot help.
      if (/incorrect token audience/i.test(f.message)) {
        return { kind: 'not_allowed', reason: `${name} (audience)`, message: NOT_ALLOWED_MESSAGE };
      }
      return { kind: 'restart', reason: name, message: RESTART_MESSAGE };
    case 'ExpiredToken':
    case 'IDPRejectedClaim':
      return { kind: 'restart', reason: name, message: RESTART_MESSAGE };
    case 'IDPCommunicationError':
      return { kind: 'retry', reason: name };
  }
  if (THROTTLING.has(f.name) || f.status === 429) return { kind: 'retry', reason: 'throttled' };
  if (
    SERVER_TROUBLE.has(f.name) ||
    (f.status !== undefined && [500, 502, 503, 504].includes(f.status))
  ) {
    return { kind: 'retry', reason: 'server error' };
  }
  if (f.status === undefined && (NETWORK_NAMES.has(f.name) || isNetworkCode(f))) {
    return { kind: 'retry', reason: 'network error' };
  }
  // Anything else (MalformedPolicyDocument, RegionDisabled, a ValidationError, a bug) is
  // neither the user's fault nor fixed by retrying: a generic failure, no retry.
  return { kind: 'sts_unavailable', reason: 'unexpected error' };
}

const NOT_ALLOWED_MESSAGE = 'This account is not allowed to use this app.';
const RESTART_MESSAGE = 'Your sign-in has expired or was not accepted. Please sign in again.';

function toSignInError(
  outcome: Outcome,
  err: unknown,
  provider: ProviderSettings,
  attempts: number,
  token: string,
): SignInError {
  const f = facts(err);
  const detail = redact(
    [
      `${provider.name}: STS AssumeRoleWithWebIdentity failed after ${attempts} attempt(s): ${outcome.reason}`,
      `${f.name}${f.code && f.code !== f.name ? `/${f.code}` : ''}`,
      f.status !== undefined ? `HTTP ${f.status}` : undefined,
      f.requestId ? `request ${f.requestId}` : undefined,
      `"${f.message}"`,
    ]
      .filter(Boolean)
      .join('; '),
    token,
  );
  if (outcome.kind === 'retry' || outcome.kind === 'sts_unavailable') {
    return new SignInError('sts_unavailable', UNAVAILABLE_MESSAGE, detail);
  }
  return new SignInError(outcome.kind, outcome.message, detail);
}

/**
 * Logs must never hold a token (oversized-token-refused, credentials-never-exposed). STS messages do not echo the token
 * today; this keeps it so if one ever does: the exact token, anything JWT-shaped, and
 * long opaque runs are cut out, and the whole detail is bounded.
 */
function redact(text: string, token: string): string {
  let out = token.length >= 4 ? text.split(token).join('[token]') : text;
  out = out.replace(/eyJ[\w-]*\.[\w-]*\.?[\w-]*/g, '[jwt]');
  out = out.replace(/[A-Za-z0-9+/=_|.-]{80,}/g, '[redacted]');
  return out.length > 600 ? `${out.slice(0, 600)}...` : out;
}
