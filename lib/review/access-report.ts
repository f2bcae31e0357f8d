import { FEDERATION_RULES, findUnsafeFederation } from '../guards';
import {
  asArray,
  isWebIdentityRole,
  OIDC_PROVIDER_TYPES,
  templateModel,
  type CfnTemplate,
  type TemplateModel,
} from '../template/model';
import { Readable } from './readable';
import { mermaid, otherRoleSection, webRoleSection } from './roles';
import { describeConditions, describePrincipal } from './statements';

/**
 * A reviewer's view of a synthesized CloudFormation template, as Markdown: who may
 * assume each role, under which conditions, reaching which resources. Built from the
 * template (what would deploy), never from the config. Pure and date-free, so two runs
 * on one template give the same text.
 */

/** Which guards the report ran, by rule name (docs/security.md explains each). */
const GUARDS_RAN = '`findUnsafeFederation`: ' + FEDERATION_RULES.map((r) => r.id).join(', ');

export interface AccessReportOptions {
  /** The stack name, for the title. */
  readonly stackName: string;
}

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
