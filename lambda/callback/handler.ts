import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type App, createApp } from './app';
import { parseAppConfig } from '../../common/app-config';
import type { HttpRequest, HttpResponse } from './http';
import { parseCookies } from './http';
import { createIdentityProviders } from './idp';
import { createSecretsManagerStore, createStaticSecretStore } from './secrets';
import { createUserStorage } from './storage';
import { createTokenExchange } from './sts';

/** API Gateway HTTP API (payload v2) adapter: event in, plain request to the core, result out. */

export function toRequest(event: APIGatewayProxyEventV2): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {}))
    if (v !== undefined) headers[k.toLowerCase()] = v;
  const body = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  return {
    method: event.requestContext.http.method.toUpperCase(),
    path: event.rawPath,
    rawQuery: event.rawQueryString ?? '',
    headers,
    cookies: parseCookies(event.cookies ?? (headers.cookie ? [headers.cookie] : [])),
    body,
    requestId: event.requestContext.requestId,
  };
}

export function toResult(res: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: res.status, headers: res.headers, cookies: res.cookies, body: res.body };
}

/** Builds the app from the environment, once per container. */
export function appFromEnvironment(env: NodeJS.ProcessEnv = process.env): App {
  const config = parseAppConfig(env.APP_CONFIG);
  const clock = { now: () => Date.now() };
  // Sandbox only: secrets handed over in the environment instead of Secrets Manager.
  const secrets =
    config.sandbox && env.APP_SECRETS
      ? createStaticSecretStore(JSON.parse(env.APP_SECRETS))
      : createSecretsManagerStore(config, clock);
  return createApp({
    config,
    clock,
    secrets,
    idp: createIdentityProviders({ secrets, clock }),
    sts: createTokenExchange({ config, clock }),
    storage: createUserStorage({ config }),
    log: (entry) => console.log(JSON.stringify(entry)),
  });
}

/** What the adapter uses of the Lambda context (the local runner provides the same). */
export interface InvocationContext {
  /** Milliseconds until the function times out. */
  getRemainingTimeInMillis(): number;
}

/** When the invocation times out, by the system clock the app uses. */
function deadlineOf(context: InvocationContext | undefined): number | undefined {
  return context ? Date.now() + context.getRemainingTimeInMillis() : undefined;
}

let app: App | undefined;

export const handler = async (
  event: APIGatewayProxyEventV2,
  context?: InvocationContext,
): Promise<APIGatewayProxyStructuredResultV2> => {
  app ??= appFromEnvironment();
  // Outbound calls are budgeted against it, so a slow IdP or STS gets our 502/503 page
  // out before the function times out into API Gateway's bare error.
  return toResult(await app(toRequest(event), deadlineOf(context)));
};
