import { once } from 'node:events';
import * as net from 'node:net';
import { listenOnHost, PortInUseError } from '../../local/listen';

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
