import { once } from 'node:events';
import type * as https from 'node:https';
import * as net from 'node:net';
import type { TlsOptions } from '../../local/contracts';
import {
  createSandboxServer,
  DEFAULT_TIMEOUTS,
  listenOnHost,
  PortInUseError,
  type ServerTimeouts,
} from '../../local/listen';
import { createLocalTls } from '../../local/tls';
import { FAST_TIMEOUTS, slowClient } from '../support/slow-client';

const closeServer = (server: net.Server) =>
  new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));

describe('listenOnHost', () => {
  const servers: net.Server[] = [];
  const newServer = () => {
    const server = net.createServer();
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(closeServer));
  });

  it('listens on 127.0.0.1 and resolves with the port bound (0 picks a free one)', async () => {
    const server = newServer();
    const port = await listenOnHost(server, 0);
    expect(port).toBeGreaterThan(0);
    expect(server.address()).toMatchObject({ address: '127.0.0.1', port });
    // Once listening, the helper leaves no error listener behind.
    expect(server.listenerCount('error')).toBe(0);
  });

  it('refuses a busy port with a clear error that keeps the EADDRINUSE code', async () => {
    const port = await listenOnHost(newServer(), 0);
    const second = newServer();
    const refused = listenOnHost(second, port);
    await expect(refused).rejects.toThrow(PortInUseError);
    await expect(refused).rejects.toMatchObject({
      code: 'EADDRINUSE',
      port,
      message: `port ${port} on 127.0.0.1 is busy (is the sandbox already running?)`,
    });
    expect(second.listening).toBe(false);
  });

  it('passes other errors through unchanged', async () => {
    const server = newServer();
    const denied = Object.assign(new Error('listen EACCES: permission denied'), {
      code: 'EACCES',
    });
    const refused = listenOnHost(server, 0);
    // 'listening' comes on a later tick, so this error arrives while the helper waits.
    server.emit('error', denied);
    await expect(refused).rejects.toBe(denied);
    // The real listen still completes; wait for it so the server can be closed.
    if (!server.listening) await once(server, 'listening');
  });
});

describe('createSandboxServer', () => {
  let ca: TlsOptions;
  beforeAll(async () => {
    ca = await createLocalTls();
  });

  const serve = async (timeouts?: ServerTimeouts) => {
    const server = createSandboxServer(ca, (_req, res) => res.end('ok'), timeouts);
    const port = await listenOnHost(server, 0);
    return { server, port };
  };
  const close = (server: https.Server) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  it('bounds the time a client may take by default', async () => {
    const { server } = await serve();
    try {
      expect(server.headersTimeout).toBe(DEFAULT_TIMEOUTS.headersMs);
      expect(server.requestTimeout).toBe(DEFAULT_TIMEOUTS.requestMs);
      expect(DEFAULT_TIMEOUTS.headersMs).toBeLessThanOrEqual(20_000);
      expect(DEFAULT_TIMEOUTS.requestMs).toBeLessThanOrEqual(300_000);
    } finally {
      await close(server);
    }
  });

  it('cuts off a client that sends a partial request line, or nothing, within the bound', async () => {
    const { server, port } = await serve(FAST_TIMEOUTS);
    try {
      for (const partial of ['GET / HT', '', 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ']) {
        const outcome = await slowClient(port, ca.ca, partial);
        expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(FAST_TIMEOUTS.headersMs - 50);
        expect(outcome.closedAfterMs).toBeLessThan(FAST_TIMEOUTS.headersMs + 1_000);
        expect(outcome.answer).toMatch(/^HTTP\/1\.1 408 /);
      }
    } finally {
      await close(server);
    }
  });
});
