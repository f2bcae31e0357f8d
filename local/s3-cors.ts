import type { PolicyModel } from './policy-model';
import { resolveIntrinsics } from '../lib/template/intrinsics';
import { S3Error } from './s3-errors';
import { wildcardMatches } from '../common/wildcard';

/**
 * The buckets' CORS rules, read from the synthesized template's `CorsConfiguration`, applied
 * as S3 applies them: preflights (`OPTIONS`, no authentication) get the matching rule's
 * answer or 403; other requests from an allowed origin get `Access-Control-Allow-Origin` and
 * friends, also on error answers so the page can read them; a foreign origin gets nothing.
 */

export interface CorsRule {
  readonly allowedOrigins: readonly string[];
  readonly allowedMethods: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly exposedHeaders: readonly string[];
  readonly maxAge?: number;
}

const asStrings = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];

/** CORS rules per bucket name, from the template's `AWS::S3::Bucket` resources. */
export function corsRulesFromTemplate(
  template: object,
  model: PolicyModel,
): Map<string, CorsRule[]> {
  const resources = ((template as { Resources?: Record<string, unknown> }).Resources ??
    {}) as Record<string, { Type?: string; Properties?: { CorsConfiguration?: unknown } }>;
  const rules = new Map<string, CorsRule[]>();
  for (const bucket of model.buckets) {
    const config = resources[bucket.logicalId]?.Properties?.CorsConfiguration;
    if (config === undefined) continue;
    const resolved = resolveIntrinsics(config, template as Record<string, unknown>, model.env) as {
      CorsRules?: Record<string, unknown>[];
    };
    rules.set(
      bucket.name,
      (resolved.CorsRules ?? []).map((r) => ({
        allowedOrigins: asStrings(r.AllowedOrigins),
        allowedMethods: asStrings(r.AllowedMethods),
        allowedHeaders: asStrings(r.AllowedHeaders),
        exposedHeaders: asStrings(r.ExposedHeaders),
        maxAge: r.MaxAge === undefined ? undefined : Number(r.MaxAge),
      })),
    );
  }
  return rules;
}

/** S3 wildcards: `*` matches any run of characters (origins allow one, headers any). */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  return wildcardMatches(pattern, value, { ignoreCase });
}

function matchRule(
  rules: readonly CorsRule[],
  origin: string,
  method: string,
  requestHeaders: readonly string[] = [],
): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcard(o, origin, false)) &&
      r.allowedMethods.includes(method) &&
      requestHeaders.every((h) => r.allowedHeaders.some((a) => wildcard(a, h, true))),
  );
}

const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

function ruleHeaders(rule: CorsRule, origin: string): Record<string, string> {
  const any = rule.allowedOrigins.includes('*');
  const headers: Record<string, string> = {
    'Access-Control-Allow-Origin': any ? '*' : origin,
    'Access-Control-Allow-Methods': rule.allowedMethods.join(', '),
    Vary: VARY,
  };
  if (!any) headers['Access-Control-Allow-Credentials'] = 'true';
  if (rule.exposedHeaders.length > 0)
    headers['Access-Control-Expose-Headers'] = rule.exposedHeaders.join(', ');
  if (rule.maxAge !== undefined) headers['Access-Control-Max-Age'] = String(rule.maxAge);
  return headers;
}

/** The answer to a preflight, or the S3 error S3 gives. */
export function preflight(
  rules: readonly CorsRule[] | undefined,
  request: {
    readonly origin?: string;
    readonly method?: string;
    readonly requestHeaders?: string;
    readonly isObject: boolean;
  },
): Record<string, string> {
  if (!request.origin) {
    throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  }
  if (!request.method) {
    throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  }
  if (!rules || rules.length === 0) {
    throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  }
  const requested = (request.requestHeaders ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const rule = matchRule(rules, request.origin, request.method, requested);
  if (!rule) {
    throw new S3Error(
      'AccessForbidden',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      { Method: request.method, ResourceType: request.isObject ? 'OBJECT' : 'BUCKET' },
    );
  }
  const headers = ruleHeaders(rule, request.origin);
  if (requested.length > 0) headers['Access-Control-Allow-Headers'] = requested.join(', ');
  return headers;
}

/** Headers to add to a non-preflight answer; none for a foreign origin or no origin. */
export function corsHeaders(
  rules: readonly CorsRule[] | undefined,
  origin: string | undefined,
  method: string,
): Record<string, string> {
  if (!rules || !origin) return {};
  const rule = matchRule(rules, origin, method);
  return rule ? ruleHeaders(rule, origin) : {};
}
