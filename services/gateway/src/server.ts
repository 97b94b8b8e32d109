import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createGatewayApp, type GatewayDeps } from './app';

export interface GatewayServer {
  readonly port: number;
  readonly server: Server;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes idle sockets. */
  close(graceMs?: number): Promise<void>;
}

/** Listens on config.host:config.port (0 = a free port). */
export async function startGateway(deps: GatewayDeps): Promise<GatewayServer> {
  const app = createGatewayApp(deps);
  const server = createServer(app);
  // STOW uploads of whole studies can take minutes; only idle connections time out.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.config.port, deps.config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : deps.config.port;
  deps.log.info({ host: deps.config.host, port }, 'DICOMweb gateway listening');
  return {
    port,
    server,
    close: async (graceMs = 10_000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => sockets.forEach((s) => s.destroy()), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
