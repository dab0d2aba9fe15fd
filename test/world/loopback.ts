// The world's servers listen on 127.0.0.1 only: its traffic never leaves loopback (TESTING.md).
import { type AddressInfo, createServer, type Server } from 'node:net';

/** Starts `server` listening on 127.0.0.1 at a free port and gives the port; rejects if it cannot listen. */
export async function listenLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** A port on 127.0.0.1 that was free a moment ago: nothing listens on it when this returns. */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
