import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateSessionPolicy } from '@cloud-copilot/iam-policy';
import {
  TokenRefused,
  type RunningServer,
  type SandboxSession,
  type SessionStore,
  type TlsOptions,
  type VerifiedWebIdentity,
  type WebIdentityVerifier,
} from './contracts';
import {
  evaluateTrust,
  sessionArn,
  unknownConditionOperators,
  type PolicyModel,
  type WebIdentityRoleModel,
} from './policy';
import { BUILT_IN_PROVIDERS, TokenKind, builtInByPrincipal } from '../common/provider-facts';
import { resolveIntrinsics } from '../lib/template/intrinsics';
import { createSandboxServer, listenOnHost, type ServerTimeouts } from './listen';
import { HOST } from './sandbox-config';
import {
  assumptionXml,
  errorXml,
  newCredentials,
  roleUniqueId,
  STS_VERSION,
  StsError,
} from './sts-wire';

/**
 * The sandbox's STS: `AssumeRoleWithWebIdentity` over HTTPS on 127.0.0.1, wire-compatible
 * with the AWS SDKs, the AWS CLI and boto3 (AWS Query protocol, unsigned).
 *
 * It decides like AWS STS, on the synthesized template: the token is verified by the dev
 * IdP's verifier, its provider is mapped to the trust principal (an OIDC issuer to the
 * template's `AWS::IAM::OIDCProvider`, whose ClientIdList gates the audience), the role's
 * trust policy is evaluated with iam-simulate, and only then are credentials issued and
 * recorded in the `SessionStore` the local S3 reads. Session policies are validated and
 * stored (managed ones only when the template defines them); iam-simulate ignores them, so
 * the local S3 applies them itself.
 *
 * Never logged: tokens, credentials, session policies. Logged: action, role, provider,
 * outcome, error code, request id.
 */

/**
 * One line of the STS's log. A type alias, not an interface, so a generic
 * `(entry: Record<string, unknown>) => void` logger accepts it.
 */
export type StsLogEntry = {
  readonly requestId: string;
  /** The `Action` parameter, or `-` when there is none. */
  readonly action: string;
  readonly status: number;
  readonly outcome: 'issued' | 'refused' | 'failed';
  /** The STS error code when refused or failed. */
  readonly code?: string;
  readonly roleArn?: string;
  /** The trust principal the token mapped to. */
  readonly provider?: string;
  /** Why a verifier or internal error happened, with anything token-like cut out. */
  readonly detail?: string;
  readonly durationMs: number;
};

export interface LocalStsOptions {
  /** The port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  readonly tls: TlsOptions;
  /** The synthesized federation template (`Template.fromStack(...).toJSON()` or the cloud assembly's). */
  readonly template: object;
  /** `loadPolicyModel(template, ...)` of the same template. */
  readonly model: PolicyModel;
  /** Where issued sessions go; the local S3 reads them. */
  readonly sessions: SessionStore;
  readonly verifier: WebIdentityVerifier;
  /**
   * ms since the epoch.
   * @default Date.now
   */
  readonly clock?: () => number;
  /** @default - no logging */
  readonly log?: (entry: StsLogEntry) => void;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: ServerTimeouts;
}

const TOKEN_REFUSAL_STATUS: Record<TokenRefused['code'], number> = {
  InvalidIdentityToken: 400,
  ExpiredTokenException: 400,
  IDPRejectedClaim: 403,
  IDPCommunicationError: 400,
};

/**
 * The plaintext limit of inline plus managed session policies (STS: 2,048 characters).
 * STS compresses before it compares; we count the whitespace-free policy JSON plus the ARN
 * lengths: usually stricter than STS, never a compression-dependent surprise.
 */
const PACKED_POLICY_LIMIT = 2048;
const DEFAULT_DURATION_SECONDS = 3600;
const MIN_DURATION_SECONDS = 900;
const MAX_DURATION_SECONDS = 43200;
/** IAM's default when a role sets no MaxSessionDuration. */
const DEFAULT_MAX_SESSION_DURATION = 3600;
const MAX_POLICY_ARNS = 10;
/** Bigger than any valid request (token 20,000 + policy 2,048 + 10 ARNs, URL-encoded x3). */
const MAX_BODY_BYTES = 256 * 1024;

const NOT_AUTHORIZED = 'Not authorized to perform sts:AssumeRoleWithWebIdentity';

const accessDenied = (): StsError => new StsError('AccessDenied', 403, NOT_AUTHORIZED);

/** What the STS needs from the template beyond the policy model. */
interface Directory {
  readonly roles: ReadonlyMap<string, { model: WebIdentityRoleModel; maxSessionDuration: number }>;
  /** IAM OIDC providers by URL without `https://`. */
  readonly oidcProviders: ReadonlyMap<string, { arn: string; clientIds: readonly string[] }>;
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const withoutScheme = (url: string): string => url.replace(/^https:\/\//, '');

function readDirectory(template: object, model: PolicyModel): Directory {
  const resources = (
    template as { Resources?: Record<string, { Type: string; Properties?: JsonObject }> }
  ).Resources;
  if (!isObject(resources)) {
    throw new Error('the STS needs a CloudFormation template with Resources');
  }
  const resolve = (value: unknown): unknown =>
    resolveIntrinsics(value, template as JsonObject, model.env);

  const roles = new Map<string, { model: WebIdentityRoleModel; maxSessionDuration: number }>();
  for (const role of model.roles) {
    const raw = resources[role.logicalId]?.Properties?.MaxSessionDuration;
    const maxSessionDuration =
      raw === undefined ? DEFAULT_MAX_SESSION_DURATION : Number(resolve(raw));
    if (!Number.isInteger(maxSessionDuration)) {
      throw new Error(
        `${role.logicalId}: MaxSessionDuration ${JSON.stringify(raw)} is not an integer`,
      );
    }
    roles.set(role.roleArn, { model: role, maxSessionDuration });
  }

  const oidcProviders = new Map<string, { arn: string; clientIds: readonly string[] }>();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::IAM::OIDCProvider') continue;
    const url = String(resolve(resource.Properties?.Url));
    const clientIds = resolve(resource.Properties?.ClientIdList ?? []);
    oidcProviders.set(withoutScheme(url), {
      arn: String(resolve({ Ref: id })),
      clientIds: Array.isArray(clientIds) ? clientIds.map(String) : [],
    });
  }
  return { roles, oidcProviders };
}

/** A validated `AssumeRoleWithWebIdentity` request. */
interface AssumeRequest {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly token: string;
  readonly providerId?: string;
  readonly durationSeconds: number;
  readonly policy?: { readonly document: unknown; readonly packedLength: number };
  readonly policyArns: readonly string[];
}

interface Constraint {
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: RegExp;
  readonly patternText?: string;
  /** Leave the value out of the message (the token). */
  readonly sensitive?: boolean;
}

const POLICY_TEXT = /^[\u0009\u000A\u000D\u0020-\u00FF]+$/;
const ARN_TEXT =
  /^[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]+$/u;
const ROLE_SESSION_NAME = /^[\w+=,.@-]*$/;
const ROLE_ARN = /^arn:[\w-]+:iam::\d{12}:role\/(?:[\u0021-\u007E]*\/)?[\w+=,.@-]{1,64}$/;
const MANAGED_POLICY_ARN =
  /^arn:[\w-]+:iam::(?:\d{12}|aws):policy\/(?:[\u0021-\u007E]*\/)?[\w+=,.@-]{1,128}$/;

/**
 * Checks the parameters as the STS API model constrains them, collecting every problem
 * into one `ValidationError` worded like AWS's ("2 validation errors detected: ...").
 */
function validateRequest(params: URLSearchParams, partition: string): AssumeRequest {
  const problems: string[] = [];
  const at = (name: string, value: string | undefined, constraint: string, sensitive = false) =>
    `Value ${value === undefined ? 'null ' : sensitive ? '' : `'${value}' `}at '${name}' failed to satisfy constraint: ${constraint}`;
  const text = (
    name: string,
    member: string,
    required: boolean,
    c: Constraint,
  ): string | undefined => {
    const value = params.get(name) ?? undefined;
    if (value === undefined) {
      if (required) problems.push(at(member, undefined, 'Member must not be null'));
      return undefined;
    }
    const before = problems.length;
    if (c.min !== undefined && value.length < c.min) {
      problems.push(
        at(member, value, `Member must have length greater than or equal to ${c.min}`, c.sensitive),
      );
    }
    if (c.max !== undefined && value.length > c.max) {
      problems.push(
        at(member, value, `Member must have length less than or equal to ${c.max}`, c.sensitive),
      );
    }
    if (c.pattern && !c.pattern.test(value)) {
      problems.push(
        at(
          member,
          value,
          `Member must satisfy regular expression pattern: ${c.patternText}`,
          c.sensitive,
        ),
      );
    }
    return problems.length === before ? value : undefined;
  };

  const roleArn = text('RoleArn', 'roleArn', true, {
    min: 20,
    max: 2048,
    pattern: ARN_TEXT,
    patternText:
      '[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+',
  });
  const roleSessionName = text('RoleSessionName', 'roleSessionName', true, {
    min: 2,
    max: 64,
    pattern: ROLE_SESSION_NAME,
    patternText: '[\\w+=,.@-]*',
  });
  const token = text('WebIdentityToken', 'webIdentityToken', true, {
    min: 4,
    max: 20000,
    sensitive: true,
  });
  const providerId = text('ProviderId', 'providerId', false, { min: 4, max: 2048 });
  const policyText = text('Policy', 'policy', false, {
    min: 1,
    max: 2048,
    pattern: POLICY_TEXT,
    patternText: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
  });

  let durationSeconds = DEFAULT_DURATION_SECONDS;
  const duration = params.get('DurationSeconds');
  if (duration !== null) {
    if (!/^-?\d{1,10}$/.test(duration)) {
      problems.push(at('durationSeconds', duration, 'Member must be an integer'));
    } else if (Number(duration) < MIN_DURATION_SECONDS) {
      problems.push(
        at(
          'durationSeconds',
          duration,
          `Member must have value greater than or equal to ${MIN_DURATION_SECONDS}`,
        ),
      );
    } else if (Number(duration) > MAX_DURATION_SECONDS) {
      problems.push(
        at(
          'durationSeconds',
          duration,
          `Member must have value less than or equal to ${MAX_DURATION_SECONDS}`,
        ),
      );
    } else {
      durationSeconds = Number(duration);
    }
  }

  // `PolicyArns.member.N.arn`, in N order. Any other spelling under `PolicyArns.` is refused
  // rather than ignored: a session policy silently dropped would widen the session.
  const members: [number, string][] = [];
  for (const [key, value] of params) {
    if (!key.startsWith('PolicyArns.')) continue;
    const match = /^PolicyArns\.member\.([1-9]\d{0,3})\.arn$/.exec(key);
    if (!match) {
      problems.push(
        `Parameter ${key} is not recognized; session policy ARNs go in PolicyArns.member.N.arn`,
      );
      continue;
    }
    members.push([Number(match[1]), value]);
  }
  members.sort((a, b) => a[0] - b[0]);
  if (members.length > MAX_POLICY_ARNS) {
    problems.push(
      at(
        'policyArns',
        `[${members.map((m) => m[1]).join(', ')}]`,
        `Member must have length less than or equal to ${MAX_POLICY_ARNS}`,
      ),
    );
  }
  const policyArns: string[] = [];
  for (const [n, arn] of members) {
    const member = `policyArns.${n}.member.arn`;
    if (arn.length < 20) {
      problems.push(at(member, arn, 'Member must have length greater than or equal to 20'));
    } else if (arn.length > 2048) {
      problems.push(at(member, arn, 'Member must have length less than or equal to 2048'));
    } else if (!MANAGED_POLICY_ARN.test(arn) || !arn.startsWith(`arn:${partition}:`)) {
      problems.push(
        at(
          member,
          arn,
          `Member must be an IAM managed policy ARN (arn:${partition}:iam::<account>:policy/<name>)`,
        ),
      );
    } else {
      policyArns.push(arn);
    }
  }

  if (problems.length > 0) {
    throw new StsError(
      'ValidationError',
      400,
      `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    );
  }
  // Every required value passed its checks, or `problems` would not be empty.
  if (!ROLE_ARN.test(roleArn!))
    throw new StsError('ValidationError', 400, 'Request ARN is invalid');

  return {
    roleArn: roleArn!,
    roleSessionName: roleSessionName!,
    token: token!,
    providerId,
    durationSeconds,
    policy: policyText === undefined ? undefined : parseSessionPolicy(policyText),
    policyArns,
  };
}

/** Parses and validates the inline session policy like IAM would, before anything else. */
function parseSessionPolicy(text: string): { document: unknown; packedLength: number } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new StsError('MalformedPolicyDocument', 400, 'This policy contains invalid Json');
  }
  // validateSessionPolicy throws on `null`; every non-object is a syntax error anyway.
  const errors = isObject(document)
    ? validateSessionPolicy(document).map((e) => `${e.path || 'policy'}: ${e.message}`)
    : ['the policy must be a JSON object'];
  // The local S3 evaluates session policies with iam-simulate, which ignores unknown
  // condition operators (a Deny would stop denying): IAM refuses them, so do we.
  errors.push(...unknownConditionOperators(document).map((u) => `unknown condition operator ${u}`));
  if (errors.length > 0) {
    throw new StsError(
      'MalformedPolicyDocument',
      400,
      `Syntax errors in policy. (${errors.join('; ')})`,
    );
  }
  // STS counts the policy without insignificant whitespace.
  return { document, packedLength: JSON.stringify(document).length };
}

/**
 * The trust principal of a verified token and the prefix of its condition keys, checking
 * ProviderId and the OIDC audience like STS.
 */
function trustPrincipal(
  verified: VerifiedWebIdentity,
  providerId: string | undefined,
  directory: Directory,
): { principal: string; keyPrefix: string } {
  const provider = verified.provider;
  const builtIn = builtInByPrincipal(provider);
  if (builtIn) {
    const accessToken = builtIn.tokenKind === TokenKind.ACCESS_TOKEN;
    if (accessToken && providerId !== builtIn.providerId) {
      // STS cannot know who issued an opaque access token without ProviderId.
      throw new StsError(
        'InvalidIdentityToken',
        400,
        `An OAuth 2.0 access token of ${provider} needs ProviderId=${provider}`,
      );
    }
    if (!accessToken && providerId !== undefined) {
      throw new StsError(
        'InvalidIdentityToken',
        400,
        'ProviderId is only for OAuth 2.0 access tokens',
      );
    }
    return { principal: provider, keyPrefix: provider };
  }
  if (providerId !== undefined) {
    throw new StsError(
      'InvalidIdentityToken',
      400,
      'ProviderId is only for OAuth 2.0 access tokens',
    );
  }
  const oidc = provider.startsWith('https://')
    ? directory.oidcProviders.get(withoutScheme(provider))
    : undefined;
  if (!oidc) {
    // Google's ID tokens may say `https://accounts.google.com`; STS treats both as Google.
    const google = BUILT_IN_PROVIDERS.google;
    if (provider === google.issuer) {
      return { principal: google.keyPrefix, keyPrefix: google.keyPrefix };
    }
    throw new StsError(
      'InvalidIdentityToken',
      400,
      `No OpenIDConnect provider found in your account for ${provider}`,
    );
  }
  if (!oidc.clientIds.includes(verified.audience)) {
    throw new StsError('InvalidIdentityToken', 400, 'Incorrect token audience');
  }
  // IAM names an OIDC provider's condition keys after its URL without the scheme.
  return { principal: oidc.arn, keyPrefix: withoutScheme(provider) };
}

/** Cuts anything token-shaped out of a verifier's error before it reaches a log. */
function redact(text: string, token: string): string {
  let out = token.length >= 4 ? text.split(token).join('[token]') : text;
  out = out
    .replace(/eyJ[\w-]*\.[\w-]*\.?[\w-]*/g, '[jwt]')
    .replace(/[\w+/=.|-]{40,}/g, '[redacted]');
  return out.length > 300 ? `${out.slice(0, 300)}...` : out;
}

interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly log: Omit<StsLogEntry, 'requestId' | 'status' | 'durationMs'>;
}

class LocalSts {
  private readonly directory: Directory;
  private readonly clock: () => number;

  constructor(private readonly options: LocalStsOptions) {
    this.directory = readDirectory(options.template, options.model);
    this.clock = options.clock ?? Date.now;
  }

  /** Answers one request's parameters; never throws. */
  async answer(params: URLSearchParams, requestId: string): Promise<Outcome> {
    const action = params.get('Action') ?? '-';
    const context: { roleArn?: string; provider?: string; detail?: string } = {};
    try {
      const version = params.get('Version');
      if (action === '-') {
        throw new StsError(
          'MissingAction',
          400,
          'The request is missing an action; the local STS speaks the AWS Query protocol (application/x-www-form-urlencoded, Action=AssumeRoleWithWebIdentity)',
        );
      }
      if (action !== 'AssumeRoleWithWebIdentity' || (version !== null && version !== STS_VERSION)) {
        throw new StsError(
          'InvalidAction',
          400,
          `Could not find operation ${action} for version ${version ?? STS_VERSION} (the local STS implements only AssumeRoleWithWebIdentity, version ${STS_VERSION})`,
        );
      }
      context.roleArn = params.get('RoleArn')?.slice(0, 2048) ?? undefined;
      const body = await this.assumeRoleWithWebIdentity(params, requestId, context);
      return { status: 200, body, log: { action, outcome: 'issued', ...context } };
    } catch (e) {
      const error =
        e instanceof StsError
          ? e
          : new StsError('InternalFailure', 500, 'The local STS failed; see its log', 'Receiver');
      if (!(e instanceof StsError)) {
        const token = params.get('WebIdentityToken') ?? '';
        context.detail = redact(`${(e as Error)?.name}: ${(e as Error)?.message}`, token);
      }
      return {
        status: error.status,
        body: errorXml(error, requestId),
        log: {
          action,
          outcome: error.type === 'Sender' ? 'refused' : 'failed',
          code: error.code,
          ...context,
        },
      };
    }
  }

  private async assumeRoleWithWebIdentity(
    params: URLSearchParams,
    requestId: string,
    context: { provider?: string; detail?: string },
  ): Promise<string> {
    const { model, sessions, verifier } = this.options;
    const request = validateRequest(params, model.env.partition);

    const packedLength =
      (request.policy?.packedLength ?? 0) +
      request.policyArns.reduce((n, arn) => n + arn.length, 0);
    const packedPercent = Math.ceil((packedLength * 100) / PACKED_POLICY_LIMIT);
    if (packedLength > PACKED_POLICY_LIMIT) {
      throw new StsError(
        'PackedPolicyTooLarge',
        400,
        `Packed policy consumes ${packedPercent}% of allotted space, please use smaller policy.`,
      );
    }

    // The token first: a caller without a valid token learns nothing about roles.
    let verified: VerifiedWebIdentity;
    try {
      verified = await verifier.verify(request.token, request.providerId);
    } catch (e) {
      if (e instanceof TokenRefused && e.code in TOKEN_REFUSAL_STATUS) {
        throw new StsError(e.code, TOKEN_REFUSAL_STATUS[e.code], e.message);
      }
      context.detail = redact(`${(e as Error)?.name}: ${(e as Error)?.message}`, request.token);
      throw new StsError(
        'IDPCommunicationError',
        400,
        "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements",
      );
    }

    const { principal, keyPrefix } = trustPrincipal(verified, request.providerId, this.directory);
    context.provider = principal;
    // STS derives a session's keys from its own provider's token only. Keys of another
    // provider (a verifier bug) would bind that provider's policy variables: drop them.
    const contextKeys: Record<string, string> = {};
    const foreign: string[] = [];
    for (const [key, value] of Object.entries(verified.contextKeys)) {
      if (key.startsWith(`${keyPrefix}:`)) contextKeys[key] = value;
      else foreign.push(key);
    }
    if (foreign.length > 0) {
      context.detail = `dropped context keys outside ${keyPrefix}: ${foreign.join(', ')}`;
    }
    const role = this.directory.roles.get(request.roleArn);
    if (!role) throw accessDenied();
    const decision = evaluateTrust(model, role.model, { principal, context: contextKeys });
    if (decision !== 'Allowed') throw accessDenied();
    // The local S3 can only apply managed session policies whose documents it has; a
    // session that silently lost one would be wider than the caller asked for.
    const unknownArns = request.policyArns.filter((arn) => !model.managedPolicies.has(arn));
    if (unknownArns.length > 0) {
      throw new StsError(
        'InvalidParameterValue',
        400,
        `The sandbox knows no managed policy ${unknownArns.join(', ')}: PolicyArns may name only the template's AWS::IAM::ManagedPolicy resources`,
      );
    }
    if (request.durationSeconds > role.maxSessionDuration) {
      throw new StsError(
        'ValidationError',
        400,
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }

    const credentials = newCredentials();
    // Whole seconds, so the stored expiry is exactly what the client reads.
    const expiration = Math.floor(this.clock() / 1000) * 1000 + request.durationSeconds * 1000;
    const session: SandboxSession = {
      ...credentials,
      expiration,
      roleArn: role.model.roleArn,
      roleLogicalId: role.model.logicalId,
      sessionName: request.roleSessionName,
      contextKeys,
      ...(request.policy ? { sessionPolicy: request.policy.document } : {}),
      ...(request.policyArns.length > 0 ? { sessionPolicyArns: [...request.policyArns] } : {}),
    };
    sessions.put(session);

    return assumptionXml(
      {
        subjectFromWebIdentityToken: verified.subject,
        audience: verified.audience,
        provider: principal,
        assumedRoleArn: sessionArn(model, role.model, request.roleSessionName),
        assumedRoleId: `${roleUniqueId(role.model.roleArn)}:${request.roleSessionName}`,
        ...credentials,
        expiration,
        packedPolicySize:
          request.policy || request.policyArns.length > 0 ? packedPercent : undefined,
      },
      requestId,
    );
  }
}

/** Reads a request body up to `limit` bytes; undefined when it is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, requestId: string): void {
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(body),
    // The SDKs take the request id only from this header.
    'x-amzn-requestid': requestId,
    // The body may hold credentials.
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** Starts the local STS on https://127.0.0.1:<port>. */
export async function startLocalSts(options: LocalStsOptions): Promise<RunningServer> {
  const sts = new LocalSts(options);
  const log = options.log ?? (() => undefined);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const requestId = randomUUID();
    const finish = (outcome: Outcome) => {
      send(res, outcome.status, outcome.body, requestId);
      try {
        log({
          requestId,
          status: outcome.status,
          durationMs: Date.now() - started,
          ...outcome.log,
        });
      } catch {
        // A failing logger must not fail the request that was already answered.
      }
    };
    const refuse = (error: StsError) =>
      finish({
        status: error.status,
        body: errorXml(error, requestId),
        log: { action: '-', outcome: 'refused', code: error.code },
      });
    try {
      const url = new URL(req.url ?? '/', `https://${HOST}`);
      if (req.method !== 'GET' && req.method !== 'POST') {
        return refuse(
          new StsError('MethodNotAllowed', 405, `${req.method} is not supported; use POST /`),
        );
      }
      if (url.pathname !== '/') {
        return refuse(
          new StsError('NotFound', 404, `No STS endpoint at ${url.pathname}; use POST /`),
        );
      }
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) {
        return refuse(new StsError('RequestEntityTooLarge', 413, 'The request body is too large'));
      }
      // AWS Query takes parameters from the query string and from a form body.
      const params = new URLSearchParams(url.search);
      const form = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
      if (req.method === 'POST' && form) {
        for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
      }
      finish(await sts.answer(params, requestId));
    } catch (e) {
      if (res.headersSent) return;
      finish({
        status: 500,
        body: errorXml(
          new StsError('InternalFailure', 500, 'The local STS failed; see its log', 'Receiver'),
          requestId,
        ),
        log: {
          action: '-',
          outcome: 'failed',
          code: 'InternalFailure',
          detail: String((e as Error)?.message),
        },
      });
    }
  };

  const server = createSandboxServer(
    options.tls,
    (req, res) => {
      void handle(req, res);
    },
    options.timeouts,
  );
  const port = await listenOnHost(server, options.port);
  let closing: Promise<void> | undefined;
  return {
    url: `https://${HOST}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep connections alive; without this, close waits for their timeout.
        server.closeAllConnections();
      })),
  };
}
