import { issuerKeyPrefix } from '../../common/provider-facts';

/**
 * Resolves the CloudFormation intrinsics of a rendered template (`Ref`, `Fn::GetAtt`,
 * `Fn::Join`, `Fn::Select`, `Fn::Sub`, pseudo parameters) to the concrete values AWS
 * would see in one environment. The sandbox evaluates the resolved policies; anything it
 * cannot resolve faithfully (`Fn::If`, `Fn::ImportValue`...) throws rather than guesses.
 */

/** Where the template is deployed; fills pseudo parameters and ARNs. */
export interface TemplateEnvironment {
  readonly accountId: string;
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** @default 'amazonaws.com' */
  readonly urlSuffix?: string;
  /** @default 'TestStack' */
  readonly stackName?: string;
}

/** Any JSON value of a rendered template. */
export type Json = unknown;
export type JsonObject = Record<string, unknown>;

/** A resource of a rendered template, as far as resolving needs it. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: JsonObject;
}

/** True for a JSON object (not an array, not null). */
export const isObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves the intrinsics of a template value to the concrete strings AWS would see. */
export function resolveIntrinsics(
  value: Json,
  template: JsonObject,
  env: TemplateEnvironment,
): unknown {
  const resolver = new IntrinsicResolver(template, withDefaults(env));
  return resolver.resolve(value);
}

/** The environment with its defaults filled in. */
export function withDefaults(env: TemplateEnvironment): Required<TemplateEnvironment> {
  return {
    partition: 'aws',
    urlSuffix: 'amazonaws.com',
    stackName: 'TestStack',
    ...env,
  };
}

/** Resolves values of one template in one environment; reuse it for many values. */
export class IntrinsicResolver {
  private readonly resources: Record<string, CfnResource>;

  constructor(
    template: JsonObject,
    private readonly env: Required<TemplateEnvironment>,
  ) {
    this.resources = (template.Resources ?? {}) as Record<string, CfnResource>;
  }

  public resolve(value: Json): unknown {
    const resolved = this.resolveInner(value);
    if (resolved === NO_VALUE) throw new Error('AWS::NoValue at the top of a value');
    return resolved;
  }

  public resourceName(logicalId: string): string {
    const resource = this.resource(logicalId);
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        // Buckets without a physical name get a generated one; the lower-cased logical id
        // is a valid, stable stand-in.
        return props.BucketName !== undefined
          ? this.str(props.BucketName)
          : logicalId.toLowerCase();
      case 'AWS::IAM::Role':
        return props.RoleName !== undefined ? this.str(props.RoleName) : logicalId;
      default:
        throw new Error(`no name rule for ${logicalId} (${resource.Type})`);
    }
  }

  private resource(logicalId: string): CfnResource {
    const resource = this.resources[logicalId];
    if (!resource) throw new Error(`unknown logical id ${logicalId}`);
    return resource;
  }

  private str(value: Json): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string' && typeof resolved !== 'number') {
      throw new Error(`expected a string, got ${JSON.stringify(resolved)}`);
    }
    return String(resolved);
  }

  private resolveInner(value: Json): unknown {
    if (Array.isArray(value)) {
      return value.map((v) => this.resolveInner(v)).filter((v) => v !== NO_VALUE);
    }
    if (!isObject(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      return this.intrinsic(keys[0], value[keys[0]]);
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.resolveInner(v);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  private intrinsic(name: string, arg: Json): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, attr] = typeof arg === 'string' ? splitOnce(arg, '.') : (arg as string[]);
        return this.getAtt(id, attr);
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, Json];
        const list = this.resolve(parts);
        if (!Array.isArray(list)) throw new Error(`Fn::Join of ${JSON.stringify(list)}`);
        return list.map((p) => this.str(p)).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [Json, Json];
        const items = this.resolve(list);
        const i = Number(this.resolve(index));
        if (!Array.isArray(items) || !(i in items)) throw new Error(`Fn::Select ${i} out of range`);
        return items[i];
      }
      case 'Fn::Sub': {
        const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, JsonObject]);
        return text.replace(/\$\{(!?)([^}]+)\}/g, (_m, bang: string, ref: string) => {
          if (bang) return '$' + '{' + ref + '}'; // `${!x}` is CloudFormation's escape for `${x}`
          if (ref in vars) return this.str(vars[ref]);
          if (ref.includes('.')) {
            const [id, attr] = splitOnce(ref, '.');
            return String(this.getAtt(id, attr));
          }
          return String(this.ref(ref));
        });
      }
      default:
        // Fn::If, Fn::ImportValue, Fn::FindInMap...: the evaluation would not know which
        // branch is deployed, so it refuses rather than guess.
        throw new Error(`cannot resolve ${name} ${JSON.stringify(arg)}`);
    }
  }

  private ref(name: string): unknown {
    switch (name) {
      case 'AWS::AccountId':
        return this.env.accountId;
      case 'AWS::Region':
        return this.env.region;
      case 'AWS::Partition':
        return this.env.partition;
      case 'AWS::URLSuffix':
        return this.env.urlSuffix;
      case 'AWS::StackName':
        return this.env.stackName;
      case 'AWS::NoValue':
        return NO_VALUE;
    }
    const resource = this.resource(name);
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
      case 'AWS::IAM::Role':
        return this.resourceName(name);
      case 'AWS::IAM::OIDCProvider':
      case 'AWS::IAM::ManagedPolicy':
        return this.getAtt(name, 'Arn');
      case 'AWS::KMS::Key':
        return name;
      default:
        throw new Error(`no Ref rule for ${name} (${resource.Type})`);
    }
  }

  private getAtt(logicalId: string, attr: string): unknown {
    const resource = this.resource(logicalId);
    const { partition, accountId, region } = this.env;
    const key = `${resource.Type}.${attr}`;
    switch (key) {
      case 'AWS::S3::Bucket.Arn':
        return `arn:${partition}:s3:::${this.resourceName(logicalId)}`;
      case 'AWS::IAM::Role.Arn':
        return `arn:${partition}:iam::${accountId}:role/${this.resourceName(logicalId)}`;
      case 'AWS::IAM::OIDCProvider.Arn': {
        const url = this.str(resource.Properties?.Url);
        return `arn:${partition}:iam::${accountId}:oidc-provider/${issuerKeyPrefix(url)}`;
      }
      case 'AWS::IAM::ManagedPolicy.Arn':
        return `arn:${partition}:iam::${accountId}:policy/${logicalId}`;
      case 'AWS::KMS::Key.Arn':
        return `arn:${partition}:kms:${region}:${accountId}:key/${logicalId}`;
      default:
        throw new Error(`no Fn::GetAtt rule for ${logicalId}.${attr} (${resource.Type})`);
    }
  }
}

function splitOnce(s: string, separator: string): [string, string] {
  const i = s.indexOf(separator);
  return [s.slice(0, i), s.slice(i + 1)];
}
