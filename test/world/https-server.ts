// One HTTPS listener on 127.0.0.1:<free port> that tracks its sockets so stop() never waits on a client.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { listenLoopback } from './loopback.ts';
import type { WorldTls } from './tls.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface Listener {
  readonly server: Server;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly host: string;
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

export async function listenHttps(tls: WorldTls, name: string, handler: Handler): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((error: unknown) => {
        // A bug in the emulator must show up as a loud 500, never as a hung client.
        process.stderr.write(
          `test world ${name}: ${req.method} ${req.url}: ${String((error as Error)?.stack ?? error)}\n`,
        );
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`test world ${name} failed: ${String(error)}`);
        } else {
          res.destroy();
        }
      });
  });
  server.keepAliveTimeout = 2_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // TLS handshake failures (e.g. a client that does not trust the CA) are the client's problem to report.
  server.on('tlsClientError', () => {});
  const port = await listenLoopback(server);
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    host: `127.0.0.1:${port}`,
    url: `https://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** Reads a whole request body (the emulated APIs take small JSON/form bodies). */
export async function readBody(req: IncomingMessage, limit = 8 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(data.length),
    ...headers,
  });
  res.end(data);
}
