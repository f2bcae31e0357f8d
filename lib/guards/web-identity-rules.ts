import { POLICY_VARIABLE_PATTERN, UNSAFE_SUBJECT_PATTERNS } from '../../common/policy-variables';
import {
  asArray,
  federatedKeyPrefix,
  flatten,
  isWebIdentityRole,
  keysFor,
} from '../template/model';
import { USER_BUCKET_ACTIONS, USER_OBJECT_ACTIONS } from '../web-identity-role';
import type { GuardRule } from './rule';
import {
  actionsOf,
  escapeRegExp,
  federatedTrusts,
  hasObjectActions,
  isKmsOnly,
  ownPrefixTarget,
  resourcesOf,
  roleStatements,
  webIdentityRoles,
} from './web-identity';

/** The rules about the roles web identity users assume: who may assume them, and what they reach. */

const MUTABLE_CLAIMS =
  /:(email|email_verified|name|given_name|family_name|middle_name|nickname|preferred_username|profile|picture|website|phone_number|login|username)\}$/;
const KMS_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];
const ALLOWED_ACCESS_ACTIONS = new Set(
  [...USER_OBJECT_ACTIONS, ...USER_BUCKET_ACTIONS, ...KMS_ACTIONS].map((a) => a.toLowerCase()),
);

export const subjectSafeForPrefix: GuardRule = {
  id: 'subject-safe-for-prefix',
  description:
    "Every web identity trust refuses subjects containing / \\ * ? or $ with StringNotLike on the provider's subject key: the subject becomes a segment of the user's prefix, and IAM, not only the app, must keep it inside.",
  check: (model) => {
    const errors: string[] = [];
    for (const role of model.roles.filter(isWebIdentityRole)) {
      for (const s of federatedTrusts(role)) {
        const prefix = federatedKeyPrefix(s.Principal, model.resources);
        if (!prefix) continue; // trust-audience-required reports an unknown provider.
        const { subjectKey } = keysFor(prefix);
        const refused = asArray(s.Condition?.StringNotLike?.[subjectKey] as string[] | string);
        const missing = UNSAFE_SUBJECT_PATTERNS.filter((p) => !refused.includes(p));
        if (missing.length > 0) {
          errors.push(
            `${role.id}: the web identity trust for ${prefix} does not refuse unsafe subjects; add StringNotLike "${subjectKey}": ${JSON.stringify(UNSAFE_SUBJECT_PATTERNS)} (missing ${JSON.stringify(missing)}), or a subject like "bob/x" lands inside bob's prefix.`,
          );
        }
      }
    }
    return errors;
  },
};

export const trustAudienceRequired: GuardRule = {
  id: 'trust-audience-required',
  description:
    "Every web identity trust names a known provider and pins the audience to exact client ids with StringEquals; otherwise any app's tokens from that provider could assume the role.",
  check: (model) => {
    const errors: string[] = [];
    for (const role of model.roles.filter(isWebIdentityRole)) {
      for (const s of federatedTrusts(role)) {
        const prefix = federatedKeyPrefix(s.Principal, model.resources);
        if (!prefix) {
          const federated = (s.Principal as { Federated?: unknown }).Federated;
          errors.push(
            `${role.id}: cannot tell which identity provider ${JSON.stringify(federated)} is; trust a provider name or an AWS::IAM::OIDCProvider of this stack.`,
          );
          continue;
        }
        const { audienceKey } = keysFor(prefix);
        const values = asArray(s.Condition?.StringEquals?.[audienceKey] as string[] | string);
        if (values.length === 0) {
          errors.push(
            `${role.id}: the web identity trust for ${prefix} has no StringEquals condition on "${audienceKey}"; any app's tokens from that provider could assume it. Add the app's client id as the audience.`,
          );
        } else if (values.some((v) => typeof v !== 'string' || /[*?]/.test(v) || v === '')) {
          errors.push(
            `${role.id}: audience "${audienceKey}" must be exact client ids, got ${JSON.stringify(values)}.`,
          );
        }
      }
    }
    return errors;
  },
};

export const prefixOnImmutableSubject: GuardRule = {
  id: 'prefix-on-immutable-subject',
  description:
    "A web identity role trusts one provider, and its policies use no policy variable but that provider's immutable subject: a mutable claim such as email would let a user take over another's prefix.",
  check: (model) => {
    const errors: string[] = [];
    for (const { role, prefixes, prefix, subjectVariable } of webIdentityRoles(model)) {
      if (prefixes.length > 1) {
        errors.push(
          `${role.id}: one web identity role must trust one provider, got ${prefixes.join(', ')}.`,
        );
      }
      if (subjectVariable === undefined) continue;
      for (const { where, statement } of roleStatements(role)) {
        for (const m of JSON.stringify(statement).matchAll(POLICY_VARIABLE_PATTERN)) {
          const variable = m[0];
          if (variable === subjectVariable) continue;
          errors.push(
            MUTABLE_CLAIMS.test(variable)
              ? `${where}: ${variable} is a mutable claim; key prefixes on ${subjectVariable} only.`
              : `${where}: ${variable} is not this role's subject variable; this role trusts ${prefix}, whose users are ${subjectVariable}.`,
          );
        }
      }
    }
    return errors;
  },
};

export const accessWithinPrefix: GuardRule = {
  id: 'access-within-prefix',
  description:
    "A web identity role reaches nothing broader than the user's own prefix users/<provider>/<subject>/: the object actions on it, the listing with an s3:prefix condition, KMS only through S3; no managed policies, no NotAction/NotResource, one provider namespace.",
  check: (model) => {
    const errors: string[] = [];
    for (const { role, subjectVariable } of webIdentityRoles(model)) {
      if (subjectVariable === undefined) continue;
      if (role.managedPolicyArns.length > 0) {
        errors.push(
          `${role.id}: web identity roles must not carry managed policies (${role.managedPolicyArns.map(flatten).join(', ')}); their access is the own-prefix policy only.`,
        );
      }
      const namespaces = new Set<string>();
      for (const { where, statement: s } of roleStatements(role)) {
        if (s.Effect !== 'Allow') continue;
        if (s.NotAction !== undefined || s.NotResource !== undefined) {
          errors.push(
            `${where}: NotAction/NotResource grant more than the own prefix; list actions and resources explicitly.`,
          );
          continue;
        }
        const actions = actionsOf(s);
        const bad = actions.filter((a) => !ALLOWED_ACCESS_ACTIONS.has(a.toLowerCase()));
        if (bad.length > 0) {
          errors.push(
            `${where}: actions ${JSON.stringify(bad)} are not allowed for web identity users; allowed: ${[...USER_OBJECT_ACTIONS, ...USER_BUCKET_ACTIONS].join(', ')} (and KMS use through S3).`,
          );
        }
        const resources = resourcesOf(s);
        if (isKmsOnly(actions)) {
          if (!s.Condition?.StringEquals?.['kms:ViaService'] || resources.includes('*')) {
            errors.push(`${where}: KMS use must be limited to one key and to kms:ViaService S3.`);
          }
          continue;
        }
        const objectActions = hasObjectActions(actions);
        for (const r of resources) {
          const target = ownPrefixTarget(r, objectActions, subjectVariable);
          if (target?.kind === 'objects') {
            namespaces.add(target.namespace);
          } else if (target?.kind === 'bucket') {
            const prefixValues = asArray(
              s.Condition?.StringLike?.['s3:prefix'] as string[] | string,
            );
            const listsOwnPrefix = new RegExp(
              `^users/([a-z0-9-]+)/${escapeRegExp(subjectVariable)}/\\*?$`,
            );
            const ok =
              prefixValues.length > 0 && prefixValues.every((v) => listsOwnPrefix.test(String(v)));
            if (!ok) {
              errors.push(
                `${where}: s3:ListBucket needs a StringLike s3:prefix condition on users/<provider>/${subjectVariable}/*, got ${JSON.stringify(prefixValues)}.`,
              );
            }
            for (const v of prefixValues) {
              const m = /^users\/([a-z0-9-]+)\//.exec(String(v));
              if (m) namespaces.add(m[1]);
            }
          } else {
            errors.push(
              `${where}: resource ${JSON.stringify(r)} is broader than the user's prefix; use <bucket ARN>/users/<provider>/${subjectVariable}/* (objects) or the bucket ARN with an s3:prefix condition (list).`,
            );
          }
        }
      }
      if (namespaces.size > 1) {
        errors.push(
          `${role.id}: reaches several provider namespaces (${[...namespaces].join(', ')}); one role, one namespace.`,
        );
      }
    }
    return errors;
  },
};
