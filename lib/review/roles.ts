import {
  asArray,
  federatedKeyPrefix,
  isWebIdentityTrust,
  keysFor,
  type CfnResourceJson as Resource,
  type PolicyStatement as Statement,
  type RoleModel,
} from '../template/model';
import type { Readable } from './readable';
import {
  cell,
  describeConditions,
  describeFederated,
  describePrincipal,
  formatDuration,
} from './statements';

/** The access report's role sections: trust, permissions, and the who-reaches-what chart. */

/** A statement's actions or resources as code, or `all except ...` for its `Not` form. */
function listed(values: unknown, notValues: unknown, separator: string, r: Readable): string {
  const codes = (v: unknown) =>
    asArray(v as unknown[])
      .map((x) => r.code(x))
      .join(separator);
  return notValues !== undefined ? 'all except ' + codes(notValues) : codes(values);
}

function permissionsTable(role: RoleModel, r: Readable): string[] {
  const rows: string[] = [];
  for (const policy of role.policies) {
    for (const s of asArray(policy.document?.Statement)) {
      const actions = listed(s.Action, s.NotAction, ' ', r);
      const targets = listed(s.Resource, s.NotResource, '<br>', r);
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

export function webRoleSection(
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

export function otherRoleSection(
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

export function mermaid(
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
