import type { RunningServer, SessionStore, TlsOptions } from './contracts';
import { createSandboxServer, listenOnHost, type ServerTimeouts } from './listen';
import type { PolicyModel } from './policy-model';
import { Authorization } from './s3-authorization';
import { Backend } from './s3-backend';
import { corsRulesFromTemplate } from './s3-cors';
import { s3RequestListener, type S3LogEntry } from './s3-pipeline';

/**
 * The sandbox's S3: an HTTPS endpoint on 127.0.0.1 in front of s3rver that does what s3rver
 * does not: verifies SigV4 (header and presigned, session token, expiry, payload hashes,
 * aws-chunked signatures and checksums), authorizes every request against the synthesized
 * policies of the session's role (plus its session policy), enforces conditional writes and
 * the template's CORS rules, and only then lets s3rver store or serve anything.
 *
 * Path-style only (`https://127.0.0.1:<port>/<bucket>/<key>`): clients set
 * `forcePathStyle: true`.
 */

export interface LocalS3Options {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  readonly tls: TlsOptions;
  /** s3rver's storage directory; objects survive restarts. */
  readonly dataDir: string;
  /** The synthesized federation template (buckets and their CORS rules). */
  readonly template: object;
  /** `loadPolicyModel(template, ...)`: the roles, policies and buckets that decide access. */
  readonly model: PolicyModel;
  /** Sessions issued by the local STS. */
  readonly sessions: SessionStore;
  /**
   * ms since the epoch; signatures, presigned URLs and sessions are checked against it.
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * Receives one entry per request.
   * @default - no logging
   */
  readonly log?: (entry: S3LogEntry) => void;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: ServerTimeouts;
}

export async function startLocalS3(options: LocalS3Options): Promise<RunningServer> {
  const { model } = options;
  const backend = await Backend.start(
    options.dataDir,
    model.buckets.map((b) => b.name),
  );
  const authorization = new Authorization(model);
  const cors = corsRulesFromTemplate(options.template, model);

  const server = createSandboxServer(
    options.tls,
    s3RequestListener({
      model,
      sessions: options.sessions,
      backend,
      authorization,
      cors,
      clock: options.clock ?? Date.now,
      log: options.log ?? (() => undefined),
    }),
    options.timeouts,
  );

  let port: number;
  try {
    port = await listenOnHost(server, options.port);
  } catch (e) {
    await backend.close();
    throw e;
  }
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await backend.close();
    },
  };
}
