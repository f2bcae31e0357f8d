import { POLICY_VARIABLE_PATTERN } from '../../common/policy-variables';
import {
  builtInByPrincipal,
  ID_TOKEN_SUBJECT_CLAIM,
  issuerKeyPrefix,
  PROFILE_SUBJECT_FIELDS,
} from '../../common/provider-facts';
import {
  asArray,
  OIDC_PROVIDER_TYPES,
  refId,
  type CfnResourceJson as Resource,
} from '../template/model';

const COGNITO_IDENTITY = 'cognito-identity.amazonaws.com';

/** A known federated principal: [name in words, short name]. */
export function knownProvider(prefix: string): [string, string] | undefined {
  const builtIn = builtInByPrincipal(prefix);
  if (builtIn) return [builtIn.productName, builtIn.family];
  return prefix === COGNITO_IDENTITY
    ? ['Amazon Cognito identity pools', 'cognito identity']
    : undefined;
}

/** A generic issuer's subject variable in a user prefix: `users/<namespace>/${<issuer key>:sub}`. */
const OIDC_SUBJECT_IN_PREFIX = new RegExp(
  'users/([a-z0-9-]+)/\\$\\{([^}]+):' + ID_TOKEN_SUBJECT_CLAIM + '\\}',
  'g',
);

/** Renders template values readably: intrinsics as ARNs and `<...>` names, variables as words. */
export class Readable {
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
    for (const m of templateText.matchAll(OIDC_SUBJECT_IN_PREFIX)) {
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
      claim === ID_TOKEN_SUBJECT_CLAIM
        ? 'subject'
        : PROFILE_SUBJECT_FIELDS.includes(claim)
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
          const url = issuerKeyPrefix(String(res.Properties?.Url ?? ''));
          return `arn:aws:iam::<account>:oidc-provider/${url}`;
        }
    }
    return attr ? `<${n}.${attr}>` : `<${n}>`;
  }
}
