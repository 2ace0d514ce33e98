/**
 * An HTTP server on 127.0.0.1 at a port the system picks: how the download, source, CLI and
 * model IO tests stand in for the network without reaching it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening loopback server. */
export interface LoopbackServer {
  server: http.Server;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  base: string;
  /** Stops listening and ends every open connection, a request still waiting for an answer too. */
  close(): Promise<void>;
}

/** Starts a server answering with `handler` on 127.0.0.1, port 0. */
export async function startLoopbackServer(handler: http.RequestListener): Promise<LoopbackServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // close() waits for open connections; a handler that never answers would keep one.
        server.closeAllConnections();
      }),
  };
}
