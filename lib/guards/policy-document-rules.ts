import { asArray, type PolicyDocument, type TemplateModel } from '../template/model';
import type { GuardRule } from './rule';

/** The rules every policy document of the template must follow, whoever it applies to. */

/** Every policy document of a template (trust, inline, attached, bucket), named for messages. */
export function policyDocuments(model: TemplateModel): { name: string; doc: PolicyDocument }[] {
  const docs: { name: string; doc: PolicyDocument }[] = [];
  for (const [id, r] of Object.entries(model.resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Role') {
      docs.push({ name: `${id} trust policy`, doc: p.AssumeRolePolicyDocument as PolicyDocument });
      for (const x of asArray(
        p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[],
      )) {
        docs.push({ name: `${id} inline policy ${x.PolicyName}`, doc: x.PolicyDocument });
      }
    } else if (
      r.Type === 'AWS::IAM::Policy' ||
      r.Type === 'AWS::IAM::ManagedPolicy' ||
      r.Type === 'AWS::S3::BucketPolicy'
    ) {
      docs.push({ name: id, doc: p.PolicyDocument as PolicyDocument });
    }
  }
  return docs.filter((d) => d.doc !== undefined);
}

export const noForAllValuesAllow: GuardRule = {
  id: 'no-forallvalues-allow',
  description:
    'No Allow statement uses a ForAllValues: condition operator: it is true for an empty or missing claim set, so it can allow everyone.',
  check: (model) => {
    const errors: string[] = [];
    for (const { name, doc } of policyDocuments(model)) {
      for (const s of asArray(doc.Statement)) {
        if (s.Effect !== 'Allow') continue;
        for (const op of Object.keys(s.Condition ?? {})) {
          if (op.startsWith('ForAllValues:')) {
            errors.push(
              `${name}: "${op}" in an Allow statement matches when the claim is missing; use ForAnyValue: or a single-valued operator.`,
            );
          }
        }
      }
    }
    return errors;
  },
};

export const policyVersion2012: GuardRule = {
  id: 'policy-version-2012',
  description:
    'Every policy document says Version "2012-10-17": under any other version, policy variables are literal text and the per-user prefix stops being per user.',
  check: (model) =>
    policyDocuments(model)
      .filter(({ doc }) => doc.Version !== '2012-10-17')
      .map(
        ({ name, doc }) =>
          `${name}: policy Version must be "2012-10-17" (older versions treat \${...} variables as literal text), got ${JSON.stringify(doc.Version)}.`,
      ),
};
