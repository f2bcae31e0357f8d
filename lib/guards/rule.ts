import { templateModel, type CfnTemplate, type TemplateModel } from '../template/model';

/** Where a template's resources are deployed, when known at synth time. */
export interface TemplateContext {
  /** The stack's region; undefined for environment-agnostic stacks. */
  readonly region?: string;
}

/**
 * One synth-time refusal, in the style of a cdk-nag rule: a name, what it requires, and a
 * pure check. A check never throws on an odd template: it reports what it can judge.
 */
export interface GuardRule {
  /** Kebab-case name; the runner tags each finding with it: `[access-within-prefix] ...`. */
  readonly id: string;
  /** What the rule requires and why, in one or two sentences. */
  readonly description: string;
  /**
   * The rule's findings on a template, untagged: each names the resource, the bad value
   * and the fix. Empty when the template complies.
   */
  readonly check: (model: TemplateModel, context: TemplateContext) => string[];
}

/** Every finding of `rules` on `template`, tagged with the rule id, rule by rule. */
export function runRules(
  rules: readonly GuardRule[],
  template: CfnTemplate,
  context: TemplateContext = {},
): string[] {
  const model = templateModel(template);
  return rules.flatMap((rule) => rule.check(model, context).map((m) => `[${rule.id}] ${m}`));
}
