import {
  asArray,
  oidcProviderId,
  type CfnResourceJson as Resource,
  type PolicyStatement as Statement,
} from '../template/model';
import { knownProvider, type Readable } from './readable';

/** Policy statements in words for the access report: principals, conditions, durations. */

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
export type Mood = 'must' | 'is';

/** The federated principal in words, e.g. `Google (accounts.google.com)`. */
export function describeFederated(
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

export function describePrincipal(
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
export function describeConditions(
  condition: Statement['Condition'],
  mood: Mood,
  r: Readable,
): string[] {
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

export function formatDuration(seconds: number): string {
  return `${seconds} s (${Number((seconds / 3600).toFixed(2))} h)`;
}

export const cell = (s: string): string => s.replace(/\n/g, '<br>');
