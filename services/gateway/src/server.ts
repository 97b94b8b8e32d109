import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { createGatewayApp, type GatewayDeps } from './app';

export interface GatewayServer {
  readonly port: number;
  readonly server: Server;
  /**
   * Stops accepting and closes idle connections, lets in-flight requests finish for up to `graceMs`
   * (default {@link GATEWAY_CLOSE_GRACE_MS}), then destroys the connections still open.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * How long a shutdown waits for HTTP requests in flight. A STOW still uploading after it loses its connection
 * (the parts that arrived whole are stored, unanswered); README's Operations section and docker-compose.yml's
 * stop_grace_period count on this value.
 */
export const GATEWAY_CLOSE_GRACE_MS = 10_000;

/** Listens on config.host:config.port (0 = a free port). */
export async function startGateway(deps: GatewayDeps): Promise<GatewayServer> {
  const app = createGatewayApp(deps);
  const server = createServer(app);
  // STOW uploads of whole studies can take minutes, so no request has a deadline. A connection on which nothing
  // moves either way does: a sender that stops mid-upload would otherwise keep its socket, descriptor and
  // temporary file for ever. Destroying the socket aborts the request, and STOW discards the part in progress.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.timeout = deps.config.httpInactivityTimeoutMs;
  server.on('timeout', (socket: Socket) => {
    // Also how idle keep-alive connections end (keepAliveTimeout), hence debug: a request cut here is logged as aborted.
    deps.log.debug({ remote: socket.remoteAddress }, 'closing an HTTP connection with no traffic');
    socket.destroy();
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.config.port, deps.config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, an 'error' is an accept that failed (EMFILE, ENFILE: out of descriptors). The server keeps
  // listening; without a listener here the event would end the process.
  server.on('error', (err) => deps.log.error({ err }, 'the HTTP server could not accept a connection'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : deps.config.port;
  deps.log.info({ host: deps.config.host, port }, 'DICOMweb gateway listening');
  return {
    port,
    server,
    close: async (graceMs = GATEWAY_CLOSE_GRACE_MS) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        // Said, so that an operator reading the shutdown knows which part held it up and what was cut.
        deps.log.warn({ open: sockets.size, graceMs }, 'HTTP requests still running after the shutdown grace period; closing their connections');
        sockets.forEach((s) => s.destroy());
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
