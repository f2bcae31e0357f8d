import type { RequestListener } from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Server } from 'node:net';
import type { TlsOptions } from './contracts';
import { HOST } from './sandbox-config';

/**
 * How long a client may take to send a request. Bounded so that a client that sends
 * nothing, or its headers byte by byte, cannot hold connections open (slowloris).
 */
export interface ServerTimeouts {
  /**
   * ms to finish the TLS handshake, and then the request line and headers.
   * @default 15_000
   */
  readonly headersMs?: number;
  /**
   * ms to send the whole request, body included.
   * @default 300_000
   */
  readonly requestMs?: number;
  /**
   * ms between Node's checks of both bounds: a slow client is cut off at most this late.
   * @default 1_000
   */
  readonly checkIntervalMs?: number;
}

/** The defaults of `ServerTimeouts`. */
export const DEFAULT_TIMEOUTS: Required<ServerTimeouts> = {
  headersMs: 15_000,
  // Uploads through the local S3 are single requests of up to 5 GB.
  requestMs: 300_000,
  checkIntervalMs: 1_000,
};

/** An HTTPS server for a sandbox service, with bounded client timeouts. */
export function createSandboxServer(
  tls: TlsOptions,
  listener: RequestListener,
  timeouts: ServerTimeouts = {},
): https.Server {
  const t = { ...DEFAULT_TIMEOUTS, ...timeouts };
  return https.createServer(
    {
      cert: tls.cert,
      key: tls.key,
      handshakeTimeout: t.headersMs,
      headersTimeout: t.headersMs,
      requestTimeout: Math.max(t.requestMs, t.headersMs),
      connectionsCheckingInterval: t.checkIntervalMs,
    },
    listener,
  );
}

/**
 * The refusal when a sandbox service's port is taken. Keeps Node's `EADDRINUSE` code so
 * callers that test the code still recognize it; the message says what to do about it.
 */
export class PortInUseError extends Error {
  readonly code = 'EADDRINUSE';

  constructor(readonly port: number) {
    super(`port ${port} on ${HOST} is busy (is the sandbox already running?)`);
    this.name = 'PortInUseError';
  }
}

/** Pending connections the kernel queues per server (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 2048;

/**
 * Starts `server` listening on the sandbox's host (never beyond this machine) and `port`
 * (0 picks a free one); resolves with the port actually bound.
 */
export function listenOnHost(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const refuse = (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port) : err);
    server.once('error', refuse);
    // A deeper accept queue than Node's 511: the load bench opens 1,000 connections at once.
    server.listen({ port, host: HOST, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', refuse);
      const address = server.address();
      // Listening on an IP address, so Node reports an AddressInfo, not a pipe name.
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Whether `port` on the sandbox's host can be bound right now (probed by binding it). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}
