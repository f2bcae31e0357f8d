import type { Server } from 'node:net';
import { HOST } from './sandbox-config';

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

/**
 * Starts `server` listening on the sandbox's host (never beyond this machine) and `port`
 * (0 picks a free one); resolves with the port actually bound.
 */
export function listenOnHost(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const refuse = (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port) : err);
    server.once('error', refuse);
    server.listen(port, HOST, () => {
      server.off('error', refuse);
      const address = server.address();
      // Listening on an IP address, so Node reports an AddressInfo, not a pipe name.
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
