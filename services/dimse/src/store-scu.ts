import type { Socket } from 'node:net';
import { Client, association, constants, requests, type responses } from 'dcmjs-dimse';
import { TransferSyntax } from '@mipseg/shared/dicom';
import { MipsegError, toMipsegError } from '@mipseg/shared/errors';
import type { Logger } from '@mipseg/shared/log';
import { classifyCStoreStatus } from './c-store-status';
import { announceMipsegImplementation, quietDcmjsDimseLog } from './dcmjs-dimse-setup';
import { StoreScuProgress } from './store-scu-progress';
import { P10FileDataSet, readFileMetaAndBits, reencodedDataSet } from './p10-file-data-set';

export interface StoreScuOptions {
  readonly host: string;
  readonly port: number;
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  /** PS3.10 files, sent in one association, in this order. */
  readonly files: readonly string[];
  /** Gives up on the association after this long (default 10 minutes); unanswered instances are retryable. */
  readonly timeoutMs?: number;
  /**
   * Gives up on a peer that does not answer the association request, or stops answering (no PDU), after this long
   * (default 60 s): a PACS that accepts the connection and then hangs must not hold an export for the whole timeout.
   */
  readonly peerTimeoutMs?: number;
  readonly log?: Logger;
}

/**
 * `sent`: the peer answered success or a warning. `retryable`: worth sending again later (A7xx out of
 * resources, a transient association rejection, a lost connection). `failed`: sending again would fail
 * the same way (A9xx, Cxxx, 0122, a refused SOP class or transfer syntax, an unreadable file).
 * Retrying, with backoff and a limit, is the caller's job.
 */
export type InstanceSendOutcome = 'sent' | 'retryable' | 'failed';

export interface InstanceSendResult {
  readonly file: string;
  readonly sopInstanceUid?: string;
  readonly outcome: InstanceSendOutcome;
  /** The C-STORE response Status; absent when no response came. */
  readonly status?: number;
  /** The peer's ErrorComment, or why no response came. */
  readonly reason?: string;
}

interface Pending {
  readonly file: string;
  readonly dataSet: P10FileDataSet;
  readonly bitsAllocated: number | undefined;
  readonly request: requests.CStoreRequest;
  response?: responses.CStoreResponse;
  /** Set when the accepted presentation contexts already say the peer will not take this instance. */
  refusal?: string;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_PEER_TIMEOUT_MS = 60_000;
const LITTLE_ENDIAN = new Set<string>([TransferSyntax.ImplicitVrLittleEndian, TransferSyntax.ExplicitVrLittleEndian]);
/**
 * The syntaxes dcmjs-dimse converts between when the peer accepted another. Deflated Explicit VR LE is uncompressed
 * pixel data too, but the library does not inflate it: it would skip the instance with no word, seen here as an
 * association that ended early and retried for nothing.
 */
const CONVERTIBLE = new Set<string>([...LITTLE_ENDIAN, TransferSyntax.ExplicitVrBigEndian]);

function assertAeTitle(ae: string, what: string): void {
  if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(ae) || ae.trim() === '') {
    throw new MipsegError('MIPSEG_CONFIG_INVALID', `${what} "${ae}" (1-16 printable characters, no backslash)`);
  }
}

async function prepare(file: string): Promise<Pending | InstanceSendResult> {
  try {
    const { meta, bitsAllocated } = await readFileMetaAndBits(file);
    const dataSet = new P10FileDataSet(file, meta);
    return { file, dataSet, bitsAllocated, request: new requests.CStoreRequest(dataSet) };
  } catch (err) {
    return { file, outcome: 'failed', reason: toMipsegError(err).message };
  }
}

/**
 * dcmjs-dimse proposes Implicit+Explicit VR Little Endian in one context per SOP class, so a peer may pick
 * the one the file is not in and the library re-encodes it. A context with only the file's own transfer
 * syntax lets the bytes go unchanged wherever the peer accepts it. (Other syntaxes get their own context.)
 */
function addExactContexts(client: Client, pending: readonly Pending[]): void {
  const pairs = new Set(pending.filter((p) => LITTLE_ENDIAN.has(p.dataSet.meta.transferSyntaxUid))
    .map((p) => `${p.dataSet.meta.mediaStorageSopClassUid} ${p.dataSet.meta.transferSyntaxUid}`));
  for (const pair of pairs) {
    const [sopClass = '', transferSyntax = ''] = pair.split(' ');
    client.addAdditionalPresentationContext(new association.PresentationContext(1, sopClass, transferSyntax), true);
  }
}

/** Why the peer will not take `p`, judged from the presentation contexts it accepted. */
function refusalFor(accepted: association.Association, p: Pending): string | undefined {
  const context = accepted.getAcceptedPresentationContextFromRequest(p.request);
  const ts = p.dataSet.meta.transferSyntaxUid;
  if (!context) return `peer accepted no presentation context for SOP class ${p.dataSet.meta.mediaStorageSopClassUid}`;
  const acceptedTs = context.getAcceptedTransferSyntaxUid() ?? '';
  if (acceptedTs !== ts && !(CONVERTIBLE.has(ts) && CONVERTIBLE.has(acceptedTs))) {
    return `peer accepted ${acceptedTs} only, not the instance's ${ts} (mipseg does not transcode)`;
  }
  // dcmjs-dimse re-encodes between uncompressed syntaxes for 8- and 16-bit pixel data only: a BINARY SEG (1 bit)
  // would be skipped without a word, and look like an association that ended early, retried for nothing. Between
  // the little-endian ones dcmjs re-encodes it here instead; any other such conversion is refused, saying why.
  if (acceptedTs !== ts && p.bitsAllocated !== 8 && p.bitsAllocated !== 16 && p.bitsAllocated !== undefined) {
    if (LITTLE_ENDIAN.has(ts) && LITTLE_ENDIAN.has(acceptedTs)) return reencodeFor(p, acceptedTs);
    return `peer accepted ${acceptedTs} only, not the instance's ${ts}; its ${p.bitsAllocated}-bit pixel data cannot be `
      + 're-encoded for it: configure the peer to accept Explicit VR Little Endian';
  }
  return undefined;
}

/** Gives the request the instance re-encoded in `transferSyntaxUid`; the reason it cannot go, should that fail. */
function reencodeFor(p: Pending, transferSyntaxUid: string): string | undefined {
  try {
    p.request.setDataset(reencodedDataSet(p.dataSet, transferSyntaxUid));
    return undefined;
  } catch (err) {
    return `peer accepted ${transferSyntaxUid} only, and the instance could not be re-encoded for it: ${toMipsegError(err).message}`;
  }
}

/** What happened to the association as a whole. */
interface AssociationReport {
  rejected?: string;
  transient: boolean;
  error?: string;
}

// PS3.8 9.3.4: A-ASSOCIATE-RJ reasons by source.
const REJECT_REASONS: Readonly<Record<number, Readonly<Record<number, string>>>> = {
  1: { 1: 'no reason given', 2: 'application context name not supported', 3: 'calling AE title not recognized',
    7: 'called AE title not recognized' },
  2: { 1: 'no reason given', 2: 'protocol version not supported' },
  3: { 1: 'temporary congestion', 2: 'local limit exceeded' },
};

/** A-ASSOCIATE-RJ source 3: the service provider's presentation layer, whose reasons are congestion and a limit reached. */
const SERVICE_PROVIDER_PRESENTATION = 3;

function describeRejection(result: number, source: number, reason: number): string {
  const kind = result === constants.RejectResult.Transient ? 'transient' : 'permanent';
  return `association rejected (${kind}): ${REJECT_REASONS[source]?.[reason] ?? `source ${source}, reason ${reason}`}`;
}

function resultFor(p: Pending, association: AssociationReport): InstanceSendResult {
  const base = { file: p.file, sopInstanceUid: p.dataSet.meta.mediaStorageSopInstanceUid };
  if (p.response) {
    const status = p.response.getStatus();
    // A malformed answer, not a lost one: failed (a peer that leaves the Status out does so again), and said as such.
    if (typeof status !== 'number') return { ...base, outcome: 'failed', reason: 'the peer\'s C-STORE response has no Status (0000,0900)' };
    const reason = p.response.getErrorComment() || undefined;
    const kind = classifyCStoreStatus(status);
    const outcome = kind === 'success' || kind === 'warning' ? 'sent' : kind === 'retryable' ? 'retryable' : 'failed';
    return { ...base, outcome, status, reason };
  }
  if (p.refusal) return { ...base, outcome: 'failed', reason: p.refusal };
  if (association.rejected) return { ...base, outcome: association.transient ? 'retryable' : 'failed', reason: association.rejected };
  return { ...base, outcome: 'retryable', reason: association.error ?? 'no C-STORE response (the association ended early)' };
}

/**
 * Sends PS3.10 files to a Storage SCP in one association and reports, per file, what the peer answered.
 * Never reports `sent` without a success or warning status from the peer.
 */
export async function sendInstancesDimse(options: StoreScuOptions): Promise<InstanceSendResult[]> {
  assertAeTitle(options.callingAeTitle, 'calling AE title');
  assertAeTitle(options.calledAeTitle, 'called AE title');
  quietDcmjsDimseLog(options.log);
  announceMipsegImplementation();
  const prepared: (Pending | InstanceSendResult)[] = [];
  // One file at a time: a study can have thousands, and only their meta groups are read here.
  for (const file of options.files) prepared.push(await prepare(file));
  const pending = prepared.filter((p): p is Pending => 'request' in p);
  const report = pending.length > 0 ? await runAssociation(options, pending) : { transient: false };
  return prepared.map((p) => ('request' in p ? resultFor(p, report) : p));
}

/** The parts of dcmjs-dimse's connection (the Client's `network`) used here. */
interface DimseNetwork {
  readonly socket?: Socket;
  on(event: 'abort', listener: (abort: { source: number; reason: number }) => void): void;
}

/** The peer's address as EXPORT_DESTINATIONS writes it, for every failure's reason. */
function destinationOf(options: StoreScuOptions): string {
  return `${options.calledAeTitle}@${options.host}:${options.port}`;
}

/** The instance whose C-STORE response is awaited: requests go one at a time, in order (no asynchronous window). */
function awaitedInstance(pending: readonly Pending[]): string | undefined {
  return pending.find((p) => !p.response && !p.refusal)?.dataSet.meta.mediaStorageSopInstanceUid;
}

/**
 * Fails the association after `limitMs` with nothing from the peer (PeerTimeoutMs), in place of dcmjs-dimse's own
 * timers, which say only "Connection timeout". Bytes of ours the peer reads count as progress: a large data set on a
 * slow link is not a silent peer. Checked a few times per limit, so it expires at most a tenth late (a second at most).
 * Returns a function that stops it.
 */
function watchPeerSilence(socket: Socket | undefined, limitMs: number, onSilent: () => void): () => void {
  const flushed = (): number => (socket ? socket.bytesWritten - socket.writableLength : 0);
  let lastFlushed = flushed();
  let lastHeard = Date.now();
  const heard = (): void => {
    lastHeard = Date.now();
  };
  const check = setInterval(() => {
    if (flushed() !== lastFlushed) {
      lastFlushed = flushed();
      heard();
    } else if (Date.now() - lastHeard >= limitMs) {
      onSilent();
    }
  }, Math.min(1000, Math.max(10, limitMs / 10)));
  socket?.on('data', heard);
  socket?.on('connect', heard);
  return () => {
    clearInterval(check);
    socket?.off('data', heard);
    socket?.off('connect', heard);
  };
}

function runAssociation(options: StoreScuOptions, pending: readonly Pending[]): Promise<AssociationReport> {
  return new Promise((resolve) => {
    const report: AssociationReport = { transient: false };
    const progress = new StoreScuProgress(destinationOf(options), () => awaitedInstance(pending));
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const peerTimeoutMs = options.peerTimeoutMs ?? DEFAULT_PEER_TIMEOUT_MS;
    const client = new Client();
    // Its connection is internal, hence the cast; set by send() below, and unset once it closes.
    const networkOf = (): DimseNetwork | undefined => (client as unknown as { network?: DimseNetwork }).network;
    let stopWatching = (): void => undefined;
    const finish = () => {
      clearTimeout(timer);
      stopWatching();
      resolve(report);
    };
    /** Ends the association on our side, with `reason` for every instance not answered. */
    const giveUp = (reason: string): void => {
      report.error ??= reason;
      try {
        client.abort();
      } catch {
        // Not connected yet: nothing to abort.
      }
      networkOf()?.socket?.destroy();
      finish();
    };
    const timer = setTimeout(() => giveUp(progress.gaveUpAfter(timeoutMs)), timeoutMs);
    for (const p of pending) {
      client.addRequest(p.request);
      p.request.on('response', (response: responses.CStoreResponse) => {
        p.response = response;
        p.dataSet.release();
      });
    }
    addExactContexts(client, pending);
    client.on('connected', () => {
      progress.phase = 'negotiating';
    });
    client.on('associationAccepted', (accepted: association.Association) => {
      progress.phase = 'storing';
      for (const p of pending) p.refusal = refusalFor(accepted, p);
    });
    client.on('associationRejected', (rj: { result: number; source: number; reason: number }) => {
      report.rejected = describeRejection(rj.result, rj.source, rj.reason);
      // Congestion and a limit reached (source 3) pass with time whatever the result says: some PACS answer "permanent"
      // to an association over their limit, and an export failed at once there would never be retried.
      report.transient = rj.result === constants.RejectResult.Transient || rj.source === SERVICE_PROVIDER_PRESENTATION;
    });
    let socketError: Error | undefined;
    // The library's message starts with the called AE title, or with nothing before its A-ASSOCIATE-RQ went out.
    client.on('networkError', (err: Error) => giveUp(progress.connectionFailed((socketError ?? err).message)));
    client.on('closed', () => {
      if (awaitedInstance(pending) !== undefined && !report.rejected) report.error ??= progress.closedEarly();
      finish();
    });
    // dcmjs-dimse's own timers only say "Connection timeout": watchPeerSilence and the timer above go first.
    const libraryLimitMs = timeoutMs + peerTimeoutMs;
    client.send(options.host, options.port, options.callingAeTitle, options.calledAeTitle,
      { connectTimeout: libraryLimitMs, associationTimeout: libraryLimitMs, pduTimeout: libraryLimitMs });
    const network = networkOf();
    network?.socket?.prependListener('error', (err: Error) => {
      socketError ??= err;
    });
    stopWatching = watchPeerSilence(network?.socket, peerTimeoutMs, () => giveUp(progress.silentFor(peerTimeoutMs)));
    // The library writes each command and data set in several small writes; with Nagle's algorithm every
    // C-STORE then waits ~40 ms on a delayed ACK.
    network?.socket?.setNoDelay(true);
    // The Client does not pass a peer's A-ABORT on: the association is over, and a peer that keeps its socket open
    // would otherwise hold this one until peerTimeoutMs, reported as a timeout.
    network?.on('abort', ({ source, reason }) => giveUp(progress.aborted(source, reason)));
  });
}
