import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { CfnResourceJson, CfnTemplate } from '../template/model';
import { certificateRegion, providersUniqueHttps } from './app-endpoint-rules';
import { noForAllValuesAllow, policyVersion2012 } from './policy-document-rules';
import { runRules, type GuardRule, type TemplateContext } from './rule';
import { bucketBaseline, lambdaRoleNoDataAccess } from './user-data-rules';
import {
  accessWithinPrefix,
  prefixOnImmutableSubject,
  subjectSafeForPrefix,
  trustAudienceRequired,
} from './web-identity-rules';

/**
 * Synthesis-time refusals: pure rules over a CloudFormation template, so they judge
 * exactly what would deploy, escape hatches included. The federation stack runs them as a
 * construct validation (synth fails, all findings listed); tests run them on mutated
 * copies of synthesized templates, and each rule on its own on hand-written templates.
 */

export type { CfnTemplate } from '../template/model';
export { asArray, federatedKeyPrefix, flatten, keysFor } from '../template/model';
export type { GuardRule, TemplateContext } from './rule';

/** The rules about web identity federation: trust, per-user access, user data buckets. */
export const FEDERATION_RULES: readonly GuardRule[] = [
  trustAudienceRequired,
  subjectSafeForPrefix,
  noForAllValuesAllow,
  policyVersion2012,
  prefixOnImmutableSubject,
  accessWithinPrefix,
  lambdaRoleNoDataAccess,
  bucketBaseline,
];

/** The rules about the app's endpoints: certificates and the base URL. */
export const APP_ENDPOINT_RULES: readonly GuardRule[] = [certificateRegion, providersUniqueHttps];

/**
 * Returns every unsafe finding in a template; empty when it is safe to deploy.
 * Each message starts with the rule id in brackets, then names the resource, the bad
 * value and the fix.
 */
export function findUnsafeFederation(template: CfnTemplate): string[] {
  return runRules(FEDERATION_RULES, template);
}

/** The findings of the app endpoint rules; pure, like `findUnsafeFederation`. */
export function findUnsafeAppEndpoints(
  template: CfnTemplate,
  context: TemplateContext = {},
): string[] {
  return runRules(APP_ENDPOINT_RULES, template, context);
}

/**
 * Runs `findUnsafeFederation` and `findUnsafeAppEndpoints` on everything `scope`'s stack
 * would deploy, as a validation: `cdk synth` and `app.synth()` fail listing every finding.
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
