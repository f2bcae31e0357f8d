import * as tls from 'node:tls';

/** Timeouts short enough for a test: a slow client is cut off within about half a second. */
export const FAST_TIMEOUTS = { headersMs: 400, requestMs: 1_000, checkIntervalMs: 50 } as const;

/** What a slow client saw: how long the server kept it, and what it answered. */
export interface SlowClientOutcome {
  /** ms from the end of the TLS handshake to the server closing the connection. */
  readonly closedAfterMs: number;
  /** Everything the server sent. */
  readonly answer: string;
}

/**
 * Opens a TLS connection to 127.0.0.1:`port` (trusting `ca`), sends `partial` (never a whole
 * request) and waits for the server to close it; rejects if it is still open after `giveUpMs`.
 */
export function slowClient(
  port: number,
  ca: string,
  partial = 'GET / HT',
  giveUpMs = 4_000,
): Promise<SlowClientOutcome> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let answer = '';
    const socket = tls.connect({ host: '127.0.0.1', port, ca }, () => {
      started = Date.now();
      socket.write(partial);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept a slow client for more than ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, answer });
    });
  });
}
