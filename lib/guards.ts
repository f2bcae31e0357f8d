import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { POLICY_VARIABLE_PATTERN } from '../common/policy-variables';
import { builtInByPrincipal, oidcProviderFacts } from '../common/provider-facts';
import { USER_BUCKET_ACTIONS, USER_OBJECT_ACTIONS } from './web-identity-role';

/**
 * Synthesis-time refusals (SECURITY-CATALOG 44-50): pure checks over a CloudFormation
 * template, so they judge exactly what would deploy, escape hatches included. The
 * federation stack runs them as a construct validation (synth fails, all findings
 * listed); tests run them on mutated copies of synthesized templates.
 */

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResourceJson>;
}
interface CfnResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface PolicyDoc {
  Version?: string;
  Statement?: Statement | Statement[];
}

const MUTABLE_CLAIMS =
  /:(email|email_verified|name|given_name|family_name|middle_name|nickname|preferred_username|profile|picture|website|phone_number|login|username)\}$/;
const WEB_IDENTITY_ACTION = 'sts:assumerolewithwebidentity';
const KMS_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];
const ALLOWED_ACCESS_ACTIONS = new Set(
  [...USER_OBJECT_ACTIONS, ...USER_BUCKET_ACTIONS, ...KMS_ACTIONS].map((a) => a.toLowerCase()),
);

export const asArray = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * Flattens an intrinsic-bearing value into a comparable string: `Ref X` -> `@X`,
 * `GetAtt X.Arn` -> `@X.Arn`, `Fn::Join` concatenated, pseudo parameters `@AWS::Region`.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.Ref === 'string') return '@' + o.Ref;
    if (Array.isArray(o['Fn::GetAtt'])) return '@' + (o['Fn::GetAtt'] as string[]).join('.');
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return asArray(parts).map(flatten).join(sep);
    }
  }
  return '@?' + JSON.stringify(value);
}

interface RoleModel {
  readonly id: string;
  readonly trust: PolicyDoc;
  readonly policies: { name: string; doc: PolicyDoc }[];
  readonly managedPolicyArns: unknown[];
}

function collectRoles(resources: Record<string, CfnResourceJson>): Map<string, RoleModel> {
  const roles = new Map<string, RoleModel>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    const p = r.Properties ?? {};
    roles.set(id, {
      id,
      trust: (p.AssumeRolePolicyDocument ?? {}) as PolicyDoc,
      policies: asArray(p.Policies as { PolicyName: string; PolicyDocument: PolicyDoc }[]).map(
        (x) => ({ name: `${id} inline ${x.PolicyName}`, doc: x.PolicyDocument }),
      ),
      managedPolicyArns: asArray(p.ManagedPolicyArns as unknown[]),
    });
  }
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const p = r.Properties ?? {};
    for (const ref of asArray(p.Roles as unknown[])) {
      const role = roles.get(flatten(ref).replace(/^@/, ''));
      role?.policies.push({ name: id, doc: p.PolicyDocument as PolicyDoc });
    }
  }
  return roles;
}

/** The condition-key prefix of a federated principal: `accounts.google.com`, issuer host/path. */
export function federatedKeyPrefix(
  principal: unknown,
  resources: Record<string, CfnResourceJson>,
): string | undefined {
  const federated = (principal as { Federated?: unknown } | undefined)?.Federated;
  if (typeof federated === 'string') return federated;
  const ref = flatten(federated)
    .replace(/^@/, '')
    .replace(/\.Arn$/, '');
  const provider = resources[ref];
  if (
    provider?.Type === 'AWS::IAM::OIDCProvider' ||
    provider?.Type === 'Custom::AWSCDKOpenIdConnectProvider'
  ) {
    const url = provider.Properties?.Url;
    return typeof url === 'string' ? url.replace(/^https:\/\//, '') : undefined;
  }
  return undefined;
}

/** Audience condition key and subject variable IAM uses for a provider prefix. */
export function keysFor(prefix: string): { audienceKey: string; subjectVariable: string } {
  // A prefix that is not a built-in provider's is a generic OIDC issuer's host/path.
  const facts = builtInByPrincipal(prefix) ?? oidcProviderFacts('https://' + prefix);
  return { audienceKey: facts.audienceKeys[0], subjectVariable: facts.subjectVariable };
}

const isWebIdentityTrust = (s: Statement): boolean =>
  s.Effect === 'Allow' &&
  asArray(s.Action as string[]).some((a) => {
    const x = String(a).toLowerCase();
    return x === WEB_IDENTITY_ACTION || x === 'sts:*' || x === '*';
  });

/** All policy documents of a template, with a name for messages. */
function allPolicyDocs(
  resources: Record<string, CfnResourceJson>,
): { name: string; doc: PolicyDoc }[] {
  const docs: { name: string; doc: PolicyDoc }[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Role') {
      docs.push({ name: `${id} trust policy`, doc: p.AssumeRolePolicyDocument as PolicyDoc });
      for (const x of asArray(p.Policies as { PolicyName: string; PolicyDocument: PolicyDoc }[])) {
        docs.push({ name: `${id} inline policy ${x.PolicyName}`, doc: x.PolicyDocument });
      }
    } else if (
      r.Type === 'AWS::IAM::Policy' ||
      r.Type === 'AWS::IAM::ManagedPolicy' ||
      r.Type === 'AWS::S3::BucketPolicy'
    ) {
      docs.push({ name: id, doc: p.PolicyDocument as PolicyDoc });
    }
  }
  return docs.filter((d) => d.doc !== undefined);
}

const S3_DATA_ACTION = /^s3:(\*|get|put|delete|list|abort|restore|replicate|select|object)/;
function isDataAction(action: string): boolean {
  const a = action.toLowerCase();
  return a === '*' || S3_DATA_ACTION.test(a);
}

/**
 * Returns every unsafe finding in a template; empty when it is safe to deploy.
 * Each message names the resource, the rule (catalog number), the bad value and the fix.
 */
export function findUnsafeFederation(template: CfnTemplate): string[] {
  const resources = template.Resources ?? {};
  const errors: string[] = [];
  const roles = collectRoles(resources);

  // 46: policy variables are literal text under any other version.
  // 45: ForAllValues: is true for an empty or missing claim set, so it can allow everyone.
  for (const { name, doc } of allPolicyDocs(resources)) {
    if (doc.Version !== '2012-10-17') {
      errors.push(
        `[catalog 46] ${name}: policy Version must be "2012-10-17" (older versions treat \${...} variables as literal text), got ${JSON.stringify(doc.Version)}.`,
      );
    }
    for (const s of asArray(doc.Statement)) {
      if (s.Effect !== 'Allow') continue;
      for (const op of Object.keys(s.Condition ?? {})) {
        if (op.startsWith('ForAllValues:')) {
          errors.push(
            `[catalog 45] ${name}: "${op}" in an Allow statement matches when the claim is missing; use ForAnyValue: or a single-valued operator.`,
          );
        }
      }
    }
  }

  const userBuckets = new Set<string>();
  const webIdentityRoles = new Set<string>();

  for (const role of roles.values()) {
    const trustStatements = asArray(role.trust?.Statement).filter(isWebIdentityTrust);
    if (trustStatements.length === 0) continue;
    webIdentityRoles.add(role.id);
    const prefixes = new Set<string>();

    // 44: every web-identity trust statement pins the audience with StringEquals.
    for (const s of asArray(role.trust.Statement)) {
      const federated = (s.Principal as { Federated?: unknown } | undefined)?.Federated;
      if (s.Effect !== 'Allow' || federated === undefined) continue;
      const prefix = federatedKeyPrefix(s.Principal, resources);
      if (!prefix) {
        errors.push(
          `[catalog 44] ${role.id}: cannot tell which identity provider ${JSON.stringify(federated)} is; trust a provider name or an AWS::IAM::OIDCProvider of this stack.`,
        );
        continue;
      }
      prefixes.add(prefix);
      const { audienceKey } = keysFor(prefix);
      const values = asArray(s.Condition?.StringEquals?.[audienceKey] as string[] | string);
      if (values.length === 0) {
        errors.push(
          `[catalog 44] ${role.id}: the web identity trust for ${prefix} has no StringEquals condition on "${audienceKey}"; any app's tokens from that provider could assume it. Add the app's client id as the audience.`,
        );
      } else if (values.some((v) => typeof v !== 'string' || /[*?]/.test(v) || v === '')) {
        errors.push(
          `[catalog 44] ${role.id}: audience "${audienceKey}" must be exact client ids, got ${JSON.stringify(values)}.`,
        );
      }
    }
    if (prefixes.size > 1) {
      errors.push(
        `[catalog 47] ${role.id}: one web identity role must trust one provider, got ${[...prefixes].join(', ')}.`,
      );
    }
    const prefix = [...prefixes][0];
    if (!prefix) continue;
    const { subjectVariable } = keysFor(prefix);

    if (role.managedPolicyArns.length > 0) {
      errors.push(
        `[catalog 48] ${role.id}: web identity roles must not carry managed policies (${role.managedPolicyArns.map(flatten).join(', ')}); their access is the own-prefix policy only.`,
      );
    }
    const namespaces = new Set<string>();
    for (const { name, doc } of role.policies) {
      for (const s of asArray(doc?.Statement)) {
        const where = `${role.id} (${name}${s.Sid ? ' ' + s.Sid : ''})`;
        const text = JSON.stringify(s);
        // 47: the only variable is the provider's own, immutable subject.
        for (const m of text.matchAll(POLICY_VARIABLE_PATTERN)) {
          const variable = m[0];
          if (variable === subjectVariable) continue;
          errors.push(
            MUTABLE_CLAIMS.test(variable)
              ? `[catalog 47] ${where}: ${variable} is a mutable claim; key prefixes on ${subjectVariable} only.`
              : `[catalog 47] ${where}: ${variable} is not this role's subject variable; this role trusts ${prefix}, whose users are ${subjectVariable}.`,
          );
        }
        if (s.Effect !== 'Allow') continue;
        if (s.NotAction !== undefined || s.NotResource !== undefined) {
          errors.push(
            `[catalog 48] ${where}: NotAction/NotResource grant more than the own prefix; list actions and resources explicitly.`,
          );
          continue;
        }
        const actions = asArray(s.Action as string[]).map(String);
        const bad = actions.filter((a) => !ALLOWED_ACCESS_ACTIONS.has(a.toLowerCase()));
        if (bad.length > 0) {
          errors.push(
            `[catalog 48] ${where}: actions ${JSON.stringify(bad)} are not allowed for web identity users; allowed: ${[...USER_OBJECT_ACTIONS, ...USER_BUCKET_ACTIONS].join(', ')} (and KMS use through S3).`,
          );
        }
        const resourcesOf = asArray(s.Resource as unknown[]).map(flatten);
        const isKms = actions.every((a) => a.toLowerCase().startsWith('kms:'));
        if (isKms) {
          if (!s.Condition?.StringEquals?.['kms:ViaService'] || resourcesOf.includes('*')) {
            errors.push(
              `[catalog 48] ${where}: KMS use must be limited to one key and to kms:ViaService S3.`,
            );
          }
          continue;
        }
        const objectActions = actions.some((a) => a.toLowerCase() !== 's3:listbucket');
        const varPattern = escapeRegExp(subjectVariable);
        for (const r of resourcesOf) {
          const objectMatch = new RegExp(
            `^@([A-Za-z0-9]+)\\.Arn/users/([a-z0-9-]+)/${varPattern}/\\*$`,
          ).exec(r);
          const bucketMatch = /^@([A-Za-z0-9]+)\.Arn$/.exec(r);
          if (objectMatch && objectActions) {
            userBuckets.add(objectMatch[1]);
            namespaces.add(objectMatch[2]);
          } else if (bucketMatch && !objectActions) {
            userBuckets.add(bucketMatch[1]);
            const prefixValues = asArray(
              s.Condition?.StringLike?.['s3:prefix'] as string[] | string,
            );
            const ok =
              prefixValues.length > 0 &&
              prefixValues.every((v) =>
                new RegExp(`^users/([a-z0-9-]+)/${varPattern}/\\*?$`).test(String(v)),
              );
            if (!ok) {
              errors.push(
                `[catalog 48] ${where}: s3:ListBucket needs a StringLike s3:prefix condition on users/<provider>/${subjectVariable}/*, got ${JSON.stringify(prefixValues)}.`,
              );
            }
            for (const v of prefixValues) {
              const m = /^users\/([a-z0-9-]+)\//.exec(String(v));
              if (m) namespaces.add(m[1]);
            }
          } else {
            errors.push(
              `[catalog 48] ${where}: resource ${JSON.stringify(r)} is broader than the user's prefix; use <bucket ARN>/users/<provider>/${subjectVariable}/* (objects) or the bucket ARN with an s3:prefix condition (list).`,
            );
          }
        }
      }
    }
    if (namespaces.size > 1) {
      errors.push(
        `[catalog 48] ${role.id}: reaches several provider namespaces (${[...namespaces].join(', ')}); one role, one namespace.`,
      );
    }
  }

  // 49: nobody but the web identity roles holds data access to a user bucket.
  for (const role of roles.values()) {
    if (webIdentityRoles.has(role.id)) continue;
    for (const { name, doc } of role.policies) {
      for (const s of asArray(doc?.Statement)) {
        if (s.Effect !== 'Allow') continue;
        const actions =
          s.NotAction !== undefined ? ['*'] : asArray(s.Action as string[]).map(String);
        const data = actions.filter(isDataAction);
        if (data.length === 0) continue;
        const reaches = asArray(s.Resource as unknown[])
          .map(flatten)
          .filter(
            (r) =>
              r === '*' ||
              [...userBuckets].some(
                (b) => r === `@${b}.Arn` || r.startsWith(`@${b}.Arn/`) || r === `@${b}`,
              ),
          );
        if (s.NotResource !== undefined || reaches.length > 0) {
          errors.push(
            `[catalog 49] ${role.id} (${name}): ${JSON.stringify(data)} on ${JSON.stringify(reaches)} gives a non-user role access to user data; only the web identity roles, confined by their policy variables, may touch it.`,
          );
        }
      }
    }
  }

  // 50: the user bucket itself.
  for (const b of userBuckets) {
    const bucket = resources[b];
    if (!bucket || bucket.Type !== 'AWS::S3::Bucket') {
      errors.push(
        `[catalog 50] web identity roles point at ${b}, which is not a bucket of this stack.`,
      );
      continue;
    }
    const p = bucket.Properties ?? {};
    const pab = (p.PublicAccessBlockConfiguration ?? {}) as Record<string, unknown>;
    const missing = [
      'BlockPublicAcls',
      'BlockPublicPolicy',
      'IgnorePublicAcls',
      'RestrictPublicBuckets',
    ].filter((k) => pab[k] !== true);
    if (missing.length > 0) {
      errors.push(
        `[catalog 50] ${b}: public access blocks ${missing.join(', ')} must all be true (BlockPublicAccess.BLOCK_ALL).`,
      );
    }
    const sse = asArray(
      (p.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown[] } | undefined)
        ?.ServerSideEncryptionConfiguration as {
        ServerSideEncryptionByDefault?: { SSEAlgorithm?: string };
      }[],
    );
    if (!sse.some((r) => r.ServerSideEncryptionByDefault?.SSEAlgorithm)) {
      errors.push(
        `[catalog 50] ${b}: default encryption is missing; set encryption to S3-managed or KMS.`,
      );
    }
    const policies = Object.values(resources).filter(
      (r) => r.Type === 'AWS::S3::BucketPolicy' && flatten(r.Properties?.Bucket) === '@' + b,
    );
    const statements = policies.flatMap((r) =>
      asArray((r.Properties?.PolicyDocument as PolicyDoc)?.Statement),
    );
    const tlsOnly = statements.some((s) => {
      const resources = asArray(s.Resource as unknown[]).map(flatten);
      const principal = s.Principal === '*' || (s.Principal as { AWS?: unknown })?.AWS === '*';
      return (
        s.Effect === 'Deny' &&
        principal &&
        asArray(s.Action as string[]).includes('s3:*') &&
        String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false' &&
        resources.includes(`@${b}.Arn`) &&
        resources.includes(`@${b}.Arn/*`)
      );
    });
    if (!tlsOnly) {
      errors.push(
        `[catalog 50] ${b}: bucket policy must deny every request without TLS (enforceSSL: true).`,
      );
    }
    for (const s of statements) {
      if (s.Effect === 'Allow') {
        errors.push(
          `[catalog 49] ${b}: bucket policy Allow for ${JSON.stringify(s.Principal)} grants user data outside the web identity roles; remove it.`,
        );
      }
    }
  }
  return errors;
}

/** Where a template's resources are deployed, when known at synth time. */
export interface TemplateContext {
  /** The stack's region; undefined for environment-agnostic stacks. */
  readonly region?: string;
}

const ACM_ARN_REGION = /^arn:aws[a-z-]*:acm:([a-z0-9-]+):/;

/**
 * Synthesis-time refusals for the app's endpoints (SECURITY-CATALOG 51, 52): a custom
 * domain whose certificate is in the wrong region, and a callback app whose redirect
 * URIs would not be HTTPS outside the sandbox. Pure, like `findUnsafeFederation`.
 */
export function findUnsafeAppEndpoints(
  template: CfnTemplate,
  context: TemplateContext = {},
): string[] {
  const errors: string[] = [];
  const regionOf = (arn: unknown): string | undefined =>
    typeof arn === 'string' ? ACM_ARN_REGION.exec(arn)?.[1] : undefined;
  // A certificate created in this template is in the stack's region: only literal ARNs
  // (imported certificates) can be wrong.
  const regional = (where: string, arn: unknown) => {
    const region = regionOf(arn);
    if (region === undefined) return;
    if (context.region === undefined) {
      errors.push(
        `[catalog 51] ${where}: a regional custom domain uses a certificate in ${region}, but the stack's region is not known at synth time; set the stack's env.region so it can be checked (regional endpoints such as HTTP APIs need a certificate in their own region).`,
      );
    } else if (region !== context.region) {
      errors.push(
        `[catalog 51] ${where}: a regional custom domain uses a certificate in ${region}, but the stack is in ${context.region}; regional endpoints such as HTTP APIs need a certificate in their own region. Use a certificate from ${context.region}.`,
      );
    }
  };
  const edge = (where: string, arn: unknown) => {
    const region = regionOf(arn);
    if (region !== undefined && region !== 'us-east-1') {
      errors.push(
        `[catalog 51] ${where}: an edge-optimized or CloudFront custom domain needs a certificate in us-east-1, got one in ${region}.`,
      );
    }
  };
  for (const [id, r] of Object.entries(template.Resources ?? {})) {
    const p = (r.Properties ?? {}) as Record<string, unknown>;
    switch (r.Type) {
      case 'AWS::ApiGatewayV2::DomainName':
        for (const c of asArray(
          p.DomainNameConfigurations as { EndpointType?: string; CertificateArn?: unknown }[],
        )) {
          if (String(c.EndpointType ?? 'REGIONAL').toUpperCase() === 'EDGE') {
            edge(id, c.CertificateArn);
          } else {
            regional(id, c.CertificateArn);
          }
        }
        break;
      case 'AWS::ApiGateway::DomainName':
        regional(id, p.RegionalCertificateArn);
        edge(id, p.CertificateArn);
        break;
      case 'AWS::CloudFront::Distribution': {
        const config = p.DistributionConfig as
          { ViewerCertificate?: { AcmCertificateArn?: unknown } } | undefined;
        edge(id, config?.ViewerCertificate?.AcmCertificateArn);
        break;
      }
      case 'AWS::Lambda::Function': {
        // 52: the app derives its redirect URIs from APP_CONFIG.baseUrl (catalog 8).
        const env = p.Environment as { Variables?: Record<string, unknown> } | undefined;
        const appConfig = env?.Variables?.APP_CONFIG;
        if (appConfig === undefined) break;
        const text = flatten(appConfig);
        const baseUrl = /"baseUrl":"([^"]*)"/.exec(text)?.[1];
        const literal = baseUrl !== undefined && !baseUrl.startsWith('@');
        if (literal && !/^https:\/\//.test(baseUrl) && !/"sandbox":true[,}]/.test(text)) {
          errors.push(
            `[catalog 52] ${id}: APP_CONFIG baseUrl ${JSON.stringify(baseUrl)} is not HTTPS outside the sandbox; the redirect URIs (<baseUrl>/oauth2callback/<provider>) and the Secure cookies need https://.`,
          );
        }
        break;
      }
    }
  }
  return errors;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Runs `findUnsafeFederation` on everything `scope`'s stack would deploy, as a
 * validation: `cdk synth` and `app.synth()` fail listing every finding.
 */
export function addFederationGuards(scope: IConstruct): void {
  scope.node.addValidation({
    validate: () => findUnsafeFederation(renderTemplate(Stack.of(scope))),
  });
  scope.node.addValidation({
    validate: () => {
      const stack = Stack.of(scope);
      const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
      return findUnsafeAppEndpoints(renderTemplate(stack), { region });
    },
  });
}

/** The stack's resources as CloudFormation would receive them, overrides included. */
export function renderTemplate(stack: Stack): CfnTemplate {
  const Resources: Record<string, CfnResourceJson> = {};
  for (const c of stack.node.findAll()) {
    if (!CfnResource.isCfnResource(c) || Stack.of(c) !== stack) continue;
    // _toCloudFormation is the rendering synthesis uses; it applies escape-hatch overrides.
    const rendered = stack.resolve(
      (
        c as unknown as { _toCloudFormation(): { Resources: Record<string, CfnResourceJson> } }
      )._toCloudFormation(),
    );
    Object.assign(Resources, rendered.Resources);
  }
  return { Resources };
}
