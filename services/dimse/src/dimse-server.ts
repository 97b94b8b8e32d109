import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Config } from '@mipseg/shared/config';
import type { Logger } from '@mipseg/shared/log';
import type { Archive } from '@mipseg/shared/store';
import { AssociationSlots } from './association-slots';
import type { DimseTimeouts } from './association-timers';
import { announceMipsegImplementation, routeDcmjsDimseLog } from './dcmjs-dimse-setup';
import { StorageScp, type StorageScpContext } from './storage-scp';

export interface DimseServerDeps {
  readonly config: Config;
  readonly archive: Archive;
  readonly log: Logger;
  /** How long a peer may keep the SCP waiting: DEFAULT_DIMSE_TIMEOUTS (30 s, 5 min) unless a test shortens them. */
  readonly timeouts?: DimseTimeouts;
}

/** A listening Verification/Storage SCP. */
export interface DimseServer {
  /** The bound TCP port (DIMSE_PORT=0 picks a free one). */
  readonly port: number;
  /** The listening TCP server. */
  readonly server: Server;
  /**
   * Stops accepting connections and refuses new associations, lets open associations finish and the
   * instances they sent be stored, and after `timeoutMs` aborts the associations still open (A-ABORT, then close).
   */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * How long a shutdown waits for open associations, idle ones included (only the SCU may release one), before
 * aborting them; README's Operations section and docker-compose.yml's stop_grace_period count on this value.
 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function untilClosed(server: Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Connections kept open without an association (a peer has 30 s to send its A-ASSOCIATE-RQ): beyond this many the
 * oldest of them is closed. Peers negotiate in milliseconds; only silent connections grow old, and evicting them,
 * rather than refusing new ones, keeps a flood of them from locking out the PACS.
 */
const UNASSOCIATED_MAX = 16;
/** How often evictions are logged, at most (with their count): a flood must not flood the log too. */
const EVICTION_LOG_MS = 60_000;

/**
 * Starts the DIMSE SCP on DIMSE_PORT, bound to HOST like the gateway. Every received instance goes through
 * {@link Archive.storeFromTemp}, the same ingest path as STOW-RS. Callers check `config.dimse.enabled`.
 */
export async function startDimseServer(deps: DimseServerDeps): Promise<DimseServer> {
  const log = deps.log;
  routeDcmjsDimseLog(log);
  announceMipsegImplementation();
  const slots = new AssociationSlots(deps.config.dimse.maxAssociations);
  // Each connection's SCP and a promise that settles when its socket has closed.
  const connections = new Map<StorageScp, Promise<void>>();
  const work = new Set<Promise<unknown>>();
  const context: StorageScpContext = {
    config: deps.config,
    archive: deps.archive,
    log,
    slots,
    timeouts: deps.timeouts,
    track(promise) {
      const settled = promise.catch((err: unknown) => log.error({ err }, 'DIMSE work failed'));
      work.add(settled);
      void settled.finally(() => work.delete(settled));
    },
  };
  let evicted = 0;
  let evictionLoggedAt = Number.NEGATIVE_INFINITY;
  /** Closes the oldest connections without an association while there are UNASSOCIATED_MAX of them or more. */
  const evictSilent = (): void => {
    const silent = [...connections.keys()].filter((scp) => !scp.hasAssociation && !scp.isClosed);
    for (const scp of silent.slice(0, Math.max(0, silent.length - UNASSOCIATED_MAX + 1))) {
      scp.drop();
      evicted++;
    }
    if (evicted > 0 && Date.now() - evictionLoggedAt >= EVICTION_LOG_MS) {
      log.warn({ evicted, kept: UNASSOCIATED_MAX }, 'DIMSE connections closed for sending no A-ASSOCIATE-RQ while newer ones came');
      evictionLoggedAt = Date.now();
      evicted = 0;
    }
  };
  const server = createServer((socket) => {
    // storescu waits on TCP acknowledgements between small writes; without this each C-STORE costs ~40 ms.
    socket.setNoDelay(true);
    // A connection holds no association slot until its A-ASSOCIATE-RQ is accepted: silent ones must not pile up.
    evictSilent();
    const scp = new StorageScp(socket, context);
    connections.set(scp, new Promise((resolve) => socket.once('close', () => {
      connections.delete(scp);
      resolve();
    })));
  });
  const port = await listen(server, deps.config.dimse.port, deps.config.host);
  // Once listening, an 'error' is an accept that failed (EMFILE, ENFILE: out of descriptors). The server keeps
  // listening; without a listener here the event would end the process, the gateway and its jobs with it.
  server.on('error', (err) => log.error({ err }, 'the DIMSE SCP could not accept a connection'));
  log.info({ port, aeTitle: deps.config.dimse.aeTitle }, 'DIMSE SCP listening');

  let closing: Promise<void> | undefined;
  const close = async (timeoutMs: number): Promise<void> => {
    slots.refuseNew();
    // Connections that never got an association have nothing to finish.
    for (const scp of connections.keys()) if (!scp.hasAssociation) scp.hangUp();
    if (!(await untilClosed(server, timeoutMs))) {
      log.warn({ open: connections.size }, 'DIMSE close timed out; aborting open associations');
      for (const scp of connections.keys()) scp.abortAssociation();
      await Promise.all(connections.values());
    }
    // Closing connections may add work (discarding partial data sets), hence the loop.
    while (work.size > 0) await Promise.all([...work]);
    log.info('DIMSE SCP closed');
  };
  return {
    port,
    server,
    close: (timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS) => (closing ??= close(timeoutMs)),
  };
}
