import {
  TokenRefused,
  type SandboxSession,
  type SessionStore,
  type VerifiedWebIdentity,
  type WebIdentityVerifier,
} from './contracts';
import { evaluateTrust } from './policy';
import { sessionArn, type PolicyModel } from './policy-model';
import { validateAssumeRequest } from './sts-request';
import { readDirectory, trustPrincipal, type Directory } from './sts-trust';
import {
  assumptionXml,
  errorXml,
  newCredentials,
  roleUniqueId,
  STS_VERSION,
  StsError,
} from './sts-wire';

/**
 * How the sandbox's STS answers one request's parameters, like AWS STS and on the
 * synthesized template: the parameters are checked (`sts-request.ts`), the token is
 * verified by the dev IdP's verifier, its provider is mapped to the trust principal
 * (`sts-trust.ts`: an OIDC issuer to the template's `AWS::IAM::OIDCProvider`, whose
 * ClientIdList gates the audience), the role's trust policy is evaluated with
 * iam-simulate, and only then are credentials issued and recorded in the `SessionStore`
 * the local S3 reads. Session policies are validated and stored (managed ones only when
 * the template defines them); iam-simulate ignores them, so the local S3 applies them
 * itself. The HTTP side is `sts.ts`.
 */

/** What one answer says for the STS's log (`StsLogEntry` adds id, status and timing). */
export type StsOutcomeLog = {
  /** The `Action` parameter, or `-` when there is none. */
  readonly action: string;
  readonly outcome: 'issued' | 'refused' | 'failed';
  /** The STS error code when refused or failed. */
  readonly code?: string;
  readonly roleArn?: string;
  /** The trust principal the token mapped to. */
  readonly provider?: string;
  /** Why a verifier or internal error happened, with anything token-like cut out. */
  readonly detail?: string;
};

/** What the STS decides on. */
export interface AssumeOptions {
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

const NOT_AUTHORIZED = 'Not authorized to perform sts:AssumeRoleWithWebIdentity';

const accessDenied = (): StsError => new StsError('AccessDenied', 403, NOT_AUTHORIZED);

/** Cuts anything token-shaped out of a verifier's error before it reaches a log. */
function redact(text: string, token: string): string {
  let out = token.length >= 4 ? text.split(token).join('[token]') : text;
  out = out
    .replace(/eyJ[\w-]*\.[\w-]*\.?[\w-]*/g, '[jwt]')
    .replace(/[\w+/=.|-]{40,}/g, '[redacted]');
  return out.length > 300 ? `${out.slice(0, 300)}...` : out;
}

/** One answer: the HTTP status, the XML body and what goes in the log. */
export interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly log: StsOutcomeLog;
}

/** Answers `AssumeRoleWithWebIdentity` requests for one template; keeps no per-request state. */
export class LocalSts {
  private readonly directory: Directory;
  private readonly clock: () => number;

  constructor(private readonly options: AssumeOptions) {
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
    const request = validateAssumeRequest(params, model.env.partition);

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
