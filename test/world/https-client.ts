// One HTTPS request of the world's self-tests, its whole answer read: the client side of https-server.ts.
import type { IncomingHttpHeaders } from 'node:http';
import { type RequestOptions, request } from 'node:https';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Sends one request to `url` (`options` override what the URL says, e.g. `path`) and reads the whole answer; never
 * follows redirects (the tests look at them). `timeoutMs` fails the call with "client timeout".
 */
export function httpsCall(
  url: string,
  options: RequestOptions = {},
  send: { body?: Buffer | string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    if (send.timeoutMs) req.setTimeout(send.timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(send.body);
  });
}
