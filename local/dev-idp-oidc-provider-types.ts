/**
 * Types of the part of `oidc-provider` (v9, ESM-only, ships no types) that the dev IdP
 * (local/dev-idp*.ts) uses, typed as the library documents it; nothing else.
 *
 * A .ts file, not a .d.ts: .gitignore drops *.d.ts. It must stay a script (no top-level
 * import or export) so that `declare module` declares the module instead of augmenting it.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { JWK } from 'jose';

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    client_name?: string;
    redirect_uris: string[];
    response_types?: string[];
    grant_types?: string[];
    token_endpoint_auth_method?: string;
    id_token_signed_response_alg?: string;
  }

  export interface AccountClaims {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: 'id_token' | 'userinfo', scope: string): AccountClaims | Promise<AccountClaims>;
  }

  export interface Grant {
    readonly accountId?: string;
    readonly clientId?: string;
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantConstructor {
    new (properties: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface Client {
    readonly clientId: string;
    redirectUriAllowed(redirectUri: string): boolean;
  }

  export interface ClientConstructor {
    prototype: Client;
  }

  export interface Interaction {
    readonly uid: string;
    readonly prompt: { name: string; reasons: string[] };
    readonly params: Record<string, unknown>;
  }

  export interface InteractionResults {
    login?: { accountId: string; remember?: boolean };
    [key: string]: unknown;
  }

  /** The Koa context oidc-provider hands to configuration callbacks. */
  export interface KoaContextWithOIDC {
    oidc: {
      readonly provider: Provider;
      readonly client?: Client;
      readonly account?: { readonly accountId: string };
      readonly session: { grantIdFor(clientId: string): string | undefined };
      readonly result?: { consent?: { grantId?: string } };
    };
    type: string;
    body: unknown;
    status: number;
    set(field: string, value: string): void;
  }

  export interface ErrorOut {
    error: string;
    error_description?: string;
    [key: string]: unknown;
  }

  export interface Configuration {
    adapter?: (model: string) => object;
    clients?: ClientMetadata[];
    jwks?: { keys: JWK[] };
    cookies?: {
      keys?: (string | Buffer)[];
      names?: { session?: string; interaction?: string; resume?: string };
    };
    claims?: Record<string, string[] | null>;
    scopes?: string[];
    responseTypes?: string[];
    conformIdTokenClaims?: boolean;
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: Client) => boolean;
    features?: Record<string, { enabled: boolean; [option: string]: unknown }>;
    enabledJWA?: { idTokenSigningAlgValues?: string[] };
    pkce?: { required?: (ctx: KoaContextWithOIDC, client: Client) => boolean };
    routes?: Record<string, string>;
    ttl?: Record<string, number>;
    interactions?: {
      url?: (ctx: KoaContextWithOIDC, interaction: Interaction) => string | Promise<string>;
    };
    findAccount?: (
      ctx: KoaContextWithOIDC,
      sub: string,
    ) => Account | undefined | Promise<Account | undefined>;
    loadExistingGrant?: (ctx: KoaContextWithOIDC) => Promise<Grant | undefined>;
    renderError?: (ctx: KoaContextWithOIDC, out: ErrorOut, error: Error) => void | Promise<void>;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    readonly Client: ClientConstructor;
    readonly Grant: GrantConstructor;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: 'server_error', listener: (ctx: KoaContextWithOIDC, error: Error) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
