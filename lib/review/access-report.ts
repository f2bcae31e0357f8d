import { FEDERATION_RULES, findUnsafeFederation } from '../guards';

/** Which guards the report ran, by rule name (docs/security.md explains each). */
const GUARDS_RAN = '`findUnsafeFederation`: ' + FEDERATION_RULES.map((r) => r.id).join(', ');
import {
  asArray,
  federatedKeyPrefix,
  isWebIdentityRole,
  isWebIdentityTrust,
  keysFor,
  OIDC_PROVIDER_TYPES,
  oidcProviderId,
  refId,
  templateModel,
  type CfnResourceJson as Resource,
  type CfnTemplate,
  type PolicyStatement as Statement,
  type RoleModel,
  type TemplateModel,
} from '../template/model';
import { POLICY_VARIABLE_PATTERN } from '../../common/policy-variables';
import { builtInByPrincipal } from '../../common/provider-facts';

/**
 * A reviewer's view of a synthesized CloudFormation template, as Markdown: who may
 * assume each role, under which conditions, reaching which resources. Built from the
 * template (what would deploy), never from the config. Pure and date-free, so two runs
 * on one template give the same text.
 */

export interface AccessReportOptions {
  /** The stack name, for the title. */
  readonly stackName: string;
}

const COGNITO_IDENTITY = 'cognito-identity.amazonaws.com';

/** A known federated principal: [name in words, short name]. */
function knownProvider(prefix: string): [string, string] | undefined {
  const builtIn = builtInByPrincipal(prefix);
  if (builtIn) return [builtIn.productName, builtIn.family];
  return prefix === COGNITO_IDENTITY
    ? ['Amazon Cognito identity pools', 'cognito identity']
    : undefined;
}

/** IAM condition operators in words: [trust mood, "only if" mood]. */
const OPERATORS: Record<string, [string, string]> = {
  StringEquals: ['must equal', 'equals'],
  StringNotEquals: ['must not equal', 'does not equal'],
  StringEqualsIgnoreCase: ['must equal (any case)', 'equals (any case)'],
  StringNotEqualsIgnoreCase: ['must not equal (any case)', 'does not equal (any case)'],
  StringLike: ['must be like', 'is like'],
  StringNotLike: ['must not be like', 'is not like'],
  ArnEquals: ['must be the ARN', 'is the ARN'],
  ArnLike: ['must be an ARN like', 'is an ARN like'],
  ArnNotEquals: ['must not be the ARN', 'is not the ARN'],
  ArnNotLike: ['must not be an ARN like', 'is not an ARN like'],
  NumericEquals: ['must be =', 'is ='],
  NumericNotEquals: ['must be !=', 'is !='],
  NumericLessThan: ['must be <', 'is <'],
  NumericLessThanEquals: ['must be <=', 'is <='],
  NumericGreaterThan: ['must be >', 'is >'],
  NumericGreaterThanEquals: ['must be >=', 'is >='],
  DateEquals: ['must be', 'is'],
  DateNotEquals: ['must not be', 'is not'],
  DateLessThan: ['must be before', 'is before'],
  DateLessThanEquals: ['must be at or before', 'is at or before'],
  DateGreaterThan: ['must be after', 'is after'],
  DateGreaterThanEquals: ['must be at or after', 'is at or after'],
  Bool: ['must be', 'is'],
  BinaryEquals: ['must equal', 'equals'],
  IpAddress: ['must be in', 'is in'],
  NotIpAddress: ['must not be in', 'is not in'],
};
type Mood = 'must' | 'is';

export function buildAccessReport(template: object, opts: AccessReportOptions): string {
  const t = template as CfnTemplate;
  const model = templateModel(t);
  const resources = model.resources;
  const r = new Readable(resources, JSON.stringify(template));
  const webRoles = model.roles.filter(isWebIdentityRole);
  const otherRoles = model.roles.filter((x) => !webRoles.includes(x));
  const buckets = model.buckets;
  const findings = findUnsafeFederation(t);

  const out: string[] = [];
  out.push(`# Access review: ${opts.stackName}`, '');
  if (t.Description) out.push(`> ${r.prose(t.Description)}`, '');
  out.push(
    'Read from the synthesized CloudFormation template (what would deploy), not from the config. ' +
      'Placeholders such as `<google subject>` are IAM policy variables: STS fills them with the ' +
      "signed-in user's id from the token. `<X bucket>` is the name of bucket resource X.",
    '',
  );
  if (findings.length === 0) {
    out.push(`**Synth-time guards: pass** (${GUARDS_RAN})`, '');
  } else {
    const n = `${findings.length} finding${findings.length === 1 ? '' : 's'}`;
    out.push(`**Synth-time guards: ${n}** (${GUARDS_RAN})`, '');
    out.push('```text', ...findings.map((f) => '- ' + r.vars(f)), '```', '');
  }
  out.push(
    '| Web identity roles | Other roles | Buckets | IAM OIDC providers |',
    '|---|---|---|---|',
    `| ${webRoles.length} | ${otherRoles.length} | ${buckets.length} | ${
      Object.values(resources).filter((x) => OIDC_PROVIDER_TYPES.includes(x.Type)).length
    } |`,
    '',
  );

  out.push('## Web identity roles', '');
  if (webRoles.length === 0) out.push('None.', '');
  for (const role of webRoles) out.push(...webRoleSection(role, resources, r));

  out.push('## Who reaches what', '', ...mermaid(webRoles, resources, r), '');

  out.push('## Other roles', '');
  if (otherRoles.length === 0) out.push('None: no other role in this template.', '');
  for (const role of otherRoles) out.push(...otherRoleSection(role, resources, r));

  out.push('## Buckets', '', ...bucketSection(model, r));
  out.push('## Outputs', '', ...outputsSection(t.Outputs ?? {}, r));
  return out.join('\n');
}

/** Renders template values readably: intrinsics as ARNs and `<...>` names, variables as words. */
class Readable {
  private readonly names = new Map<string, string>();
  private readonly issuerNames = new Map<string, string>();

  constructor(
    private readonly resources: Readonly<Record<string, Resource>>,
    templateText: string,
  ) {
    // Generated logical ids end in an 8-digit hash; drop it where no two names collide.
    const ids = Object.keys(resources);
    const short = (id: string) => /^(.+?)[0-9A-F]{8}$/.exec(id)?.[1] ?? id;
    for (const id of ids) {
      const s = short(id);
      this.names.set(id, ids.filter((o) => short(o) === s).length === 1 ? s : id);
    }
    // Name an OIDC issuer's variables after the namespace its prefix uses, e.g. users/cognito/.
    for (const m of templateText.matchAll(/users\/([a-z0-9-]+)\/\$\{([^}]+):sub\}/g)) {
      if (!this.issuerNames.has(m[2])) this.issuerNames.set(m[2], m[1]);
    }
  }

  name(id: string): string {
    return this.names.get(id) ?? id;
  }

  /** The readable text of a template value (string, intrinsic or list). */
  text(value: unknown): string {
    return this.vars(this.raw(value));
  }

  /** The text as inline code, safe in a table cell. */
  code(value: unknown): string {
    return '`' + this.text(value).replace(/`/g, "'").replace(/\|/g, '\\|') + '`';
  }

  /** Free text for Markdown: variables readable, `<` and `|` escaped. */
  prose(s: string): string {
    return this.vars(s).replace(/[<|]/g, '\\$&');
  }

  /** Replaces every policy variable with a readable placeholder. */
  vars(s: string): string {
    // IAM's literal-character variables (`${*}`, `${?}`, `${$}`) stay as written: shown
    // as a bare `*` they would read as a wildcard.
    return s.replace(POLICY_VARIABLE_PATTERN, (match, inner: string) =>
      ['*', '?', '$'].includes(inner) ? match : this.placeholder(inner),
    );
  }

  /** The readable name of a condition-key prefix: `google`, a namespace, an issuer host. */
  private providerShortName(prefix: string): string | undefined {
    const known = knownProvider(prefix)?.[1] ?? this.issuerNames.get(prefix);
    if (known) return known;
    return prefix.includes('.') ? prefix.split('/')[0] : undefined;
  }

  private placeholder(inner: string): string {
    const colon = inner.lastIndexOf(':');
    if (colon < 0) return `<${inner}>`;
    const who = this.providerShortName(inner.slice(0, colon));
    if (!who) return `<${inner}>`;
    const claim = inner.slice(colon + 1);
    const words =
      claim === 'sub'
        ? 'subject'
        : claim === 'id' || claim === 'user_id'
          ? 'user id'
          : claim.replace(/_/g, ' ');
    return `<${who} ${words}>`;
  }

  private raw(value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (Array.isArray(value)) return value.map((v) => this.raw(v)).join(', ');
    if (!value || typeof value !== 'object') return String(value);
    const o = value as Record<string, unknown>;
    if ('Ref' in o || 'Fn::GetAtt' in o) return this.leaf(refId(o));
    if (Array.isArray(o['Fn::Join'])) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown];
      return asArray(parts as unknown[])
        .map((p) => this.raw(p))
        .join(sep);
    }
    if ('Fn::Sub' in o) {
      const [body, vars] = asArray(o['Fn::Sub'] as unknown[]) as [string, Record<string, unknown>?];
      return String(body).replace(/\$\{([^}]+)\}/g, (_m, ref: string) =>
        ref.startsWith('!')
          ? '${' + ref.slice(1) + '}'
          : vars && ref in vars
            ? this.raw(vars[ref])
            : this.leaf(ref),
      );
    }
    if ('Fn::ImportValue' in o) return `<import ${this.raw(o['Fn::ImportValue'])}>`;
    return `<${Object.keys(o).join(' ')} ${JSON.stringify(Object.values(o)[0])}>`;
  }

  /** `X` (Ref) or `X.Attr` (GetAtt) as text. */
  private leaf(ref: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Region': '<region>',
      'AWS::AccountId': '<account>',
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': '<stack name>',
      'AWS::NoValue': '',
    };
    if (ref in pseudo) return pseudo[ref];
    const dot = ref.indexOf('.');
    const id = dot < 0 ? ref : ref.slice(0, dot);
    const attr = dot < 0 ? undefined : ref.slice(dot + 1);
    const res = this.resources[id];
    const n = this.name(id);
    switch (res?.Type) {
      case 'AWS::S3::Bucket':
        if (!attr) return `<${n} bucket>`;
        if (attr === 'Arn') return `arn:aws:s3:::<${n} bucket>`;
        break;
      case 'AWS::IAM::Role':
        if (!attr) return `<${n} role>`;
        if (attr === 'Arn') return `arn:aws:iam::<account>:role/<${n} role>`;
        break;
      case 'AWS::KMS::Key':
        if (!attr) return `<${n} key id>`;
        if (attr === 'Arn') return `arn:aws:kms:<region>:<account>:key/<${n} key id>`;
        break;
      case 'AWS::IAM::ManagedPolicy':
        if (!attr) return `arn:aws:iam::<account>:policy/<${n}>`;
        break;
      case 'AWS::Lambda::Function':
        if (!attr) return `<${n} function>`;
        if (attr === 'Arn') return `arn:aws:lambda:<region>:<account>:function:<${n} function>`;
        break;
      default:
        if (res && OIDC_PROVIDER_TYPES.includes(res.Type) && (!attr || attr === 'Arn')) {
          const url = String(res.Properties?.Url ?? '').replace(/^https:\/\//, '');
          return `arn:aws:iam::<account>:oidc-provider/${url}`;
        }
    }
    return attr ? `<${n}.${attr}>` : `<${n}>`;
  }
}

/** The federated principal in words, e.g. `Google (accounts.google.com)`. */
function describeFederated(
  federated: unknown,
  resources: Readonly<Record<string, Resource>>,
  r: Readable,
): string {
  if (typeof federated === 'string') {
    const known = knownProvider(federated);
    if (known) return `${known[0]} (${federated})`;
    return `federated principal ${r.code(federated)}, not defined in this template`;
  }
  const id = oidcProviderId(federated, resources);
  if (id !== undefined) {
    const provider = resources[id];
    const p = provider.Properties ?? {};
    const kind = provider.Type === 'AWS::IAM::OIDCProvider' ? 'IAM OIDC provider' : 'OIDC provider';
    return `OIDC issuer ${r.text(p.Url)} (${kind} ${id})`;
  }
  return `federated principal ${r.code(federated)}`;
}

function describePrincipal(
  principal: unknown,
  resources: Readonly<Record<string, Resource>>,
  r: Readable,
): string {
  if (principal === '*') return 'anyone (`*`)';
  if (!principal || typeof principal !== 'object') return principal === undefined ? 'nobody' : '?';
  return Object.entries(principal as Record<string, unknown>)
    .map(([kind, v]) => {
      if (kind === 'Federated') {
        return asArray(v as unknown[])
          .map((f) => describeFederated(f, resources, r))
          .join(', ');
      }
      if (kind === 'AWS' && asArray(v as unknown[]).includes('*')) return 'anyone (`*`)';
      const label = kind === 'Service' ? 'AWS service' : kind === 'AWS' ? 'AWS principal' : kind;
      return `${label} ${asArray(v as unknown[])
        .map((x) => r.code(x))
        .join(', ')}`;
    })
    .join('; ');
}

/** Every condition of a statement in words, one per entry. */
function describeConditions(condition: Statement['Condition'], mood: Mood, r: Readable): string[] {
  const lines: string[] = [];
  for (const [operator, entries] of Object.entries(condition ?? {})) {
    const m = /^(ForAnyValue:|ForAllValues:)?(.+?)(IfExists)?$/.exec(operator);
    const [, set, base, ifExists] = m ?? [];
    for (const [key, value] of Object.entries(entries ?? {})) {
      const values = asArray(value as unknown[]);
      let phrase: string;
      if (base === 'Null') {
        const absent = String(values[0]) === 'true';
        phrase =
          (mood === 'must' ? 'must be ' : 'is ') +
          (absent ? 'absent (no such key)' : 'present (any value)');
      } else if (OPERATORS[base]) {
        const negative = /Not/.test(base);
        // A trust condition lists the accepted values: say "one of" even for one of them.
        const isSet = /^(String|Arn)/.test(base) && (mood === 'must' || values.length > 1);
        const many = values.length > 1 || isSet ? (negative ? ' any of:' : ' one of:') : '';
        phrase = `${OPERATORS[base][mood === 'must' ? 0 : 1]}${many} ${values.map((v) => r.code(v)).join(', ')}`;
      } else {
        // Unknown operators are worth a flag: some evaluators ignore them (fail open).
        phrase = `**unknown operator ${operator}** ${values.map((v) => r.code(v)).join(', ')}`;
      }
      const subject =
        set === 'ForAnyValue:'
          ? `at least one value of \`${key}\``
          : set === 'ForAllValues:'
            ? `every value of \`${key}\` (also true when it has none)`
            : `\`${key}\``;
      lines.push(`${subject} ${phrase}${ifExists ? ' (or the key is absent)' : ''}`);
    }
  }
  return lines;
}

function formatDuration(seconds: number): string {
  return `${seconds} s (${Number((seconds / 3600).toFixed(2))} h)`;
}

const cell = (s: string): string => s.replace(/\n/g, '<br>');

function permissionsTable(role: RoleModel, r: Readable): string[] {
  const rows: string[] = [];
  for (const policy of role.policies) {
    for (const s of asArray(policy.document?.Statement)) {
      const actions =
        s.NotAction !== undefined
          ? 'all except ' +
            asArray(s.NotAction as unknown[])
              .map((a) => r.code(a))
              .join(' ')
          : asArray(s.Action as unknown[])
              .map((a) => r.code(a))
              .join(' ');
      const targets =
        s.NotResource !== undefined
          ? 'all except ' +
            asArray(s.NotResource as unknown[])
              .map((x) => r.code(x))
              .join('<br>')
          : asArray(s.Resource as unknown[])
              .map((x) => r.code(x))
              .join('<br>');
      const conditions = describeConditions(s.Condition, 'is', r).join('<br>') || 'always';
      const effect = s.Effect === 'Allow' ? 'Allow' : `**${s.Effect}**`;
      const from = r.name(policy.name) + (s.Sid ? ` (${s.Sid})` : '');
      const kind = policy.kind === 'policy' ? '' : policy.kind + ' ';
      rows.push(`| ${effect} | ${actions} | ${targets} | ${cell(conditions)} | ${kind}${from} |`);
    }
  }
  const out: string[] = [];
  if (rows.length > 0) {
    out.push('| Effect | Actions | Resources | Only if | Policy (Sid) |', '|---|---|---|---|---|');
    out.push(...rows, '');
  } else {
    out.push('No permissions in this template.', '');
  }
  if (role.externalPolicyArns.length > 0) {
    out.push(
      `**Managed policies not in this template** (review their content separately): ${role.externalPolicyArns
        .map((a) => r.code(a))
        .join(', ')}`,
      '',
    );
  }
  return out;
}

function trustRows(
  role: RoleModel,
  resources: Readonly<Record<string, Resource>>,
  r: Readable,
): string[] {
  // Statements that differ only in their actions (e.g. sts:TagSession next to the main
  // one, same principal and conditions) read as one.
  const groups = new Map<string, { s: Statement; actions: unknown[] }>();
  for (const s of role.trustStatements) {
    const key = JSON.stringify([s.Effect, s.Principal, s.Condition ?? {}]);
    const group = groups.get(key) ?? { s, actions: [] };
    group.actions.push(...asArray(s.Action as unknown[]));
    groups.set(key, group);
  }
  const rows: string[] = [];
  [...groups.values()].forEach(({ s, actions }, i) => {
    const n = groups.size > 1 ? ` (statement ${i + 1})` : '';
    const verb = s.Effect === 'Allow' ? 'Assumed by' : `**${s.Effect}** for`;
    rows.push(`| ${verb}${n} | ${describePrincipal(s.Principal, resources, r)} |`);
    rows.push(`| Trust actions${n} | ${actions.map((a) => r.code(a)).join(' ')} |`);
    const conditions = describeConditions(s.Condition, 'must', r);
    rows.push(`| Conditions${n} | ${cell(conditions.join('\n')) || '**none**'} |`);
  });
  const max = role.resource.Properties?.MaxSessionDuration;
  rows.push(
    `| Max session | ${
      typeof max === 'number' ? formatDuration(max) : `${formatDuration(3600)}, IAM default`
    } |`,
  );
  return rows;
}

function webRoleSection(
  role: RoleModel,
  resources: Readonly<Record<string, Resource>>,
  r: Readable,
) {
  const federated = role.trustStatements.find(isWebIdentityTrust)?.Principal;
  const prefix = federatedKeyPrefix(federated, resources);
  const out = [
    `### ${r.name(role.id)}`,
    '',
    `| Role | \`${role.id}\` |`,
    '|---|---|',
    ...trustRows(role, resources, r),
  ];
  if (prefix) out.push(`| Subject variable | ${r.code(keysFor(prefix).subjectVariable)} |`);
  out.push('', ...permissionsTable(role, r));
  return out;
}

function otherRoleSection(
  role: RoleModel,
  resources: Readonly<Record<string, Resource>>,
  r: Readable,
): string[] {
  return [
    `### ${r.name(role.id)}`,
    '',
    `| Role | \`${role.id}\` |`,
    '|---|---|',
    ...trustRows(role, resources, r),
    '',
    ...permissionsTable(role, r),
  ];
}

/** The S3 places a role's Allow statements reach, as `bucket/prefix` text. */
function s3Targets(role: RoleModel, r: Readable): string[] {
  const targets = new Set<string>();
  for (const { document } of role.policies) {
    for (const s of asArray(document?.Statement)) {
      const actions = asArray(s.Action as unknown[]).map((a) => String(a).toLowerCase());
      if (s.Effect !== 'Allow' || !actions.some((a) => a === '*' || a.startsWith('s3:'))) continue;
      const listPrefixes = asArray(s.Condition?.StringLike?.['s3:prefix'] as unknown[]);
      for (const res of asArray(s.Resource as unknown[])) {
        const text = r.text(res);
        if (!text.startsWith('arn:aws:s3:::') && text !== '*') continue;
        const path = text.replace(/^arn:aws:s3:::/, '');
        if (!path.includes('/') && listPrefixes.length > 0) {
          for (const p of listPrefixes) targets.add(`${path}/${r.text(p)}`);
        } else {
          targets.add(path);
        }
      }
    }
  }
  return [...targets];
}

function mermaid(
  roles: RoleModel[],
  resources: Readonly<Record<string, Resource>>,
  r: Readable,
): string[] {
  const label = (s: string) =>
    '"' + s.replace(/"/g, '#quot;').replace(/</g, '‹').replace(/>/g, '›') + '"';
  const nodes: string[] = [];
  const edges: string[] = [];
  const ids = new Map<string, string>();
  const node = (kind: string, text: string) => {
    const key = kind + text;
    let id = ids.get(key);
    if (!id) {
      id = kind + ids.size;
      ids.set(key, id);
      nodes.push(`  ${id}[${label(text)}]`);
    }
    return id;
  };
  for (const role of roles) {
    const roleNode = node('R', r.name(role.id));
    for (const s of role.trustStatements.filter(isWebIdentityTrust)) {
      const who = (s.Principal as { Federated?: unknown } | undefined)?.Federated;
      for (const f of asArray(who as unknown[])) {
        edges.push(`  ${node('P', describeFederated(f, resources, r))} --> ${roleNode}`);
      }
    }
    for (const target of s3Targets(role, r)) edges.push(`  ${roleNode} --> ${node('S', target)}`);
  }
  return ['```mermaid', 'flowchart LR', ...nodes, ...edges, '```'];
}

function bucketSection(model: TemplateModel, r: Readable) {
  const resources = model.resources;
  const out = [
    '| Bucket | Public access block | Encryption | Versioning | Access logs | ACLs | CORS origins | On stack delete |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const id of model.buckets) {
    const p = resources[id].Properties ?? {};
    const pab = (p.PublicAccessBlockConfiguration ?? {}) as Record<string, unknown>;
    const off = [
      'BlockPublicAcls',
      'BlockPublicPolicy',
      'IgnorePublicAcls',
      'RestrictPublicBuckets',
    ];
    const offNow = off.filter((k) => pab[k] !== true);
    const sse = asArray(
      (p.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown } | undefined)
        ?.ServerSideEncryptionConfiguration as {
        BucketKeyEnabled?: boolean;
        ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: unknown };
      }[],
    )[0];
    const algo = sse?.ServerSideEncryptionByDefault?.SSEAlgorithm;
    const key = sse?.ServerSideEncryptionByDefault?.KMSMasterKeyID;
    const encryption = !algo
      ? '**not set** (S3 default SSE-S3)'
      : (algo === 'AES256' ? 'SSE-S3' : algo === 'aws:kms' ? 'SSE-KMS' : algo) +
        (key ? ` with ${r.code(key)}` : '') +
        (sse?.BucketKeyEnabled ? ', bucket key' : '');
    const logging = p.LoggingConfiguration as
      { DestinationBucketName?: unknown; LogFilePrefix?: string } | undefined;
    const ownership = asArray(
      (p.OwnershipControls as { Rules?: { ObjectOwnership?: string }[] } | undefined)?.Rules,
    )[0]?.ObjectOwnership;
    const cors = asArray(
      (p.CorsConfiguration as { CorsRules?: { AllowedOrigins?: unknown[] }[] } | undefined)
        ?.CorsRules,
    ).flatMap((c) => asArray(c.AllowedOrigins));
    out.push(
      [
        '',
        r.name(id),
        offNow.length === 0 ? 'all 4 blocks on' : `**off: ${offNow.join(', ')}**`,
        encryption,
        String((p.VersioningConfiguration as { Status?: string } | undefined)?.Status ?? 'off'),
        logging
          ? `to ${r.code(logging.DestinationBucketName ?? 'this bucket')}` +
            (logging.LogFilePrefix ? ` prefix ${r.code(logging.LogFilePrefix)}` : '')
          : 'off',
        ownership === 'BucketOwnerEnforced'
          ? 'disabled (BucketOwnerEnforced)'
          : (ownership ?? 'not set'),
        cors.length > 0 ? cors.map((o) => r.code(o)).join(' ') : 'none',
        resources[id].DeletionPolicy ?? 'Delete',
        '',
      ]
        .join(' | ')
        .trim(),
    );
  }
  out.push('', '**Bucket policies**', '');
  if (model.bucketPolicies.length === 0) out.push('None.');
  for (const policy of model.bucketPolicies) {
    const bucket = policy.bucket.replace(/^@/, '');
    for (const s of asArray(policy.document?.Statement)) {
      const targets = asArray(s.Resource as unknown[]).map((x) => r.code(x));
      const conditions = describeConditions(s.Condition, 'is', r);
      const tlsOnly =
        s.Effect === 'Deny' &&
        String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false' &&
        asArray(s.Action as unknown[]).includes('s3:*');
      out.push(
        `- ${r.name(bucket)}: ${s.Effect === 'Deny' ? '**Deny**' : 'Allow'} ` +
          `${asArray((s.Action ?? s.NotAction) as unknown[])
            .map((a) => r.code(a))
            .join(' ')}` +
          ` to ${describePrincipal(s.Principal, resources, r)} on ${targets.join(', ')}` +
          (conditions.length > 0 ? ` if ${conditions.join(' and ')}` : '') +
          (tlsOnly ? ': **TLS only**, every request without TLS is refused.' : '.'),
      );
    }
  }
  out.push('');
  return out;
}

function outputsSection(outputs: NonNullable<CfnTemplate['Outputs']>, r: Readable): string[] {
  const entries = Object.entries(outputs);
  if (entries.length === 0) return ['None.', ''];
  return [
    '| Output | Value | Description |',
    '|---|---|---|',
    ...entries.map(
      ([name, o]) => `| ${name} | ${r.code(o.Value)} | ${r.prose(o.Description ?? '')} |`,
    ),
    '',
  ];
}
