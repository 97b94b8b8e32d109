import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Dataset, Scp, constants, responses, type association, type requests } from 'dcmjs-dimse';
import type { Config } from '@mipseg/shared/config';
import { MipsegError } from '@mipseg/shared/errors';
import { encodeFileMetaInformation } from '@mipseg/shared/dicom';
import type { Logger } from '@mipseg/shared/log';
import { StudiesArriving, type Archive, type StoreOutcome } from '@mipseg/shared/store';
import { busyRejection, checkAeTitles, negotiatePresentationContexts, type AssociationRejection } from './association-negotiation';
import type { AssociationSlots } from './association-slots';
import { AssociationTimers, DEFAULT_DIMSE_TIMEOUTS, type DimseTimeouts } from './association-timers';
import { cStoreResultFor } from './c-store-status';
import { A_ABORT_BY_USER, A_ABORT_INVALID_PDU_PARAMETER, A_ABORT_UNEXPECTED_PDU, maxPduLengthToAnnounce, PduLengthGuard, type PduRefusal } from './pdu-length-guard';
import { ReceivedInstance } from './received-instance';

/**
 * A C-STORE must travel on a presentation context for its SOP class (PS3.7 9.1.1): the transfer syntax agreed there
 * is for that class. One sent on another class's context (a sender that negotiated CT and sends Enhanced CT on it)
 * is refused with 0x0122, SOP class not supported, which says what to fix; the response goes back on the context
 * the request came on. dcmjs-dimse itself does not check.
 */
function sopClassRefusal(context: association.PresentationContext, request: requests.CStoreRequest): MipsegError | undefined {
  const abstractSyntax = context.getAbstractSyntaxUid();
  if (request.getAffectedSopClassUid() === abstractSyntax) return undefined;
  return new MipsegError('MIPSEG_SOP_CLASS_NOT_SUPPORTED',
    `AffectedSOPClassUID is not presentation context ${context.getPresentationContextId()}'s (${abstractSyntax}): `
    + `${request.getAffectedSopClassUid() ?? '(none)'}`);
}

/** What every association of one server shares. */
export interface StorageScpContext {
  readonly config: Config;
  readonly archive: Archive;
  readonly log: Logger;
  readonly slots: AssociationSlots;
  /** DEFAULT_DIMSE_TIMEOUTS unless a test shortens them. */
  readonly timeouts?: DimseTimeouts;
  /** Registers work that a graceful close must wait for. */
  track(work: Promise<unknown>): void;
}

/**
 * After our last PDU, how long a peer may take to close its side before the connection is destroyed: the ARTIM
 * timer of PS3.8 9.2, which an acceptor starts on sending A-RELEASE-RP or A-ASSOCIATE-RJ (actions AR-4, AE-8; state
 * Sta13) and on whose expiry it closes the transport connection itself (AA-2).
 */
const HANG_UP_GRACE_MS = 5000;

/**
 * One association's Verification and Storage SCP. Built per TCP connection by the server (not by
 * dcmjs-dimse's Server, which cannot report its port, limit associations or close gracefully).
 */
export class StorageScp extends Scp {
  private readonly log: Logger;
  private readonly receiving = new Map<requests.CStoreRequest, ReceivedInstance>();
  private readonly storing = new Set<Promise<unknown>>();
  private callingAeTitle = '';
  private holdsSlot = false;
  /** The studies this association has stored, held as arriving while it is open. */
  private readonly studies: StudiesArriving;
  private readonly timers: AssociationTimers;
  /** Follows the incoming PDUs: refuses those this SCP will not take, and counts those received whole for the timers. */
  private readonly pduGuard = new PduLengthGuard();

  constructor(
    private readonly connection: Socket,
    private readonly context: StorageScpContext,
  ) {
    super(connection);
    this.log = context.log.child({ peer: `${connection.remoteAddress}:${connection.remotePort}` });
    this.studies = new StudiesArriving(context.archive, context.config.pipeline.quietPeriodMs);
    // dcmjs-dimse's association and PDU timeouts run only once `connected` is set, which its Server does and this
    // does not: AssociationTimers keeps time instead. Its socket idle timeout (3 min by default) is turned off too.
    connection.setTimeout(0);
    this.timers = this.startTimers(context.timeouts ?? DEFAULT_DIMSE_TIMEOUTS);
    this.on('networkError', (err: Error) => {
      this.log.warn({ err: err.message }, 'DIMSE connection error');
      // A PDU dcmjs-dimse could not parse (PS3.8 AA-8: A-ABORT), or a socket already gone: either way nothing more is read.
      this.abortAssociation(A_ABORT_INVALID_PDU_PARAMETER);
    });
    connection.once('close', () => void this.closed());
    this.guardPduLengths();
  }

  private startTimers(timeouts: DimseTimeouts): AssociationTimers {
    const timers = new AssociationTimers(timeouts, () => {
      // PS3.8 AA-2: no A-ABORT to a peer that never associated, only the connection closed.
      this.log.info({ timeoutMs: timeouts.associateRequestMs }, 'no A-ASSOCIATE-RQ in time; connection closed');
      this.connection.destroy();
    }, () => {
      this.log.warn({ callingAeTitle: this.callingAeTitle, timeoutMs: timeouts.idleMs }, 'association idle too long; aborted');
      this.abortAssociation(A_ABORT_BY_USER);
    });
    // By whole PDUs (see PduLengthGuard.completedPdus), read after the guard's listener has taken the chunk. A real
    // transfer completes a PDU of at most MAX_P_DATA_TF_LENGTH (256 KiB) well within the idle limit on any working link
    // (256 KiB in 5 minutes is under 1 KB/s); bytes that never finish a PDU show no progress.
    let pdusSeen = 0;
    this.connection.on('data', () => {
      if (this.pduGuard.completedPdus === pdusSeen) return;
      pdusSeen = this.pduGuard.completedPdus;
      timers.received();
    });
    return timers;
  }

  /**
   * Aborts the association at the first PDU this SCP will not take (see PduLengthGuard): ahead of dcmjs-dimse, which
   * reads the same chunk after it. What a refused association was still receiving is discarded, never stored, though
   * dcmjs-dimse may finish parsing it (see cStoreRequest).
   */
  private guardPduLengths(): void {
    const onData = (chunk: Buffer): void => {
      const refusal = this.pduGuard.accept(chunk);
      if (!refusal) return;
      this.connection.off('data', onData);
      this.refusedPdu = refusal;
      this.log.warn({ ...refusal, callingAeTitle: this.callingAeTitle || undefined }, 'PDU this SCP does not take; association aborted');
      // Already ended (an association rejected or released, PS3.8 Sta13): the peer is owed no more PDUs.
      if (!this.isClosed) this.connection.end(refusal.unexpected ? A_ABORT_UNEXPECTED_PDU : A_ABORT_INVALID_PDU_PARAMETER);
      this.connection.destroySoon();
    };
    this.connection.prependListener('data', onData);
  }

  /** The PDU the guard refused: nothing received on this association since is stored. */
  private refusedPdu: PduRefusal | undefined;

  /** True once an association was accepted on this connection. */
  get hasAssociation(): boolean {
    return this.holdsSlot;
  }

  /** The connection is closed, or being closed (ended by us: a refused association, a release answered). */
  get isClosed(): boolean {
    return this.connection.destroyed || this.connection.writableEnded;
  }

  /** Closes the connection at once (one that never associated: nothing of it is under way). */
  drop(): void {
    this.connection.destroy();
  }

  override associationRequested(request: association.Association): void {
    // The guard has answered an A-ASSOCIATE-RQ breaking PS3.8's rules, or one on a connection that already had one,
    // with an A-ABORT; dcmjs-dimse still parses it.
    if (this.refusedPdu) return;
    const peer = { callingAeTitle: request.getCallingAeTitle(), calledAeTitle: request.getCalledAeTitle() };
    this.callingAeTitle = peer.callingAeTitle;
    const rejection = checkAeTitles(peer.callingAeTitle, peer.calledAeTitle, this.context.config.dimse, this.connection.remoteAddress)
      ?? this.takeSlot();
    if (rejection) {
      this.log.warn({ ...peer, code: rejection.code, reason: rejection.why }, 'association rejected');
      this.timers.associateRequestReceived(false);
      this.sendAssociationReject(rejection.result, rejection.source, rejection.reason);
      this.hangUp();
      return;
    }
    this.timers.associateRequestReceived(true);
    // No asynchronous operations window: the SCU waits for each C-STORE response before the next request.
    request.setNegotiateAsyncOps(false);
    request.setMaxPduLength(maxPduLengthToAnnounce(request.getMaxPduLength()));
    const accepted = negotiatePresentationContexts(request);
    this.log.info({ ...peer, proposedContexts: request.getPresentationContexts().length, acceptedContexts: accepted.length },
      'association accepted');
    this.sendAssociationAccept();
  }

  override associationReleaseRequested(): void {
    // A release must not overtake the response to a C-STORE still being stored.
    void Promise.allSettled([...this.storing]).then(() => {
      if (this.connection.destroyed) return;
      this.sendAssociationReleaseResponse();
      // The association no longer exists once A-RELEASE-RP is sent (PS3.8 Sta13), so its slot is free now. The SCU
      // should then close the connection; one that lingers would otherwise hold it until the PDU timeout.
      this.giveBackSlot();
      this.hangUp();
    });
  }

  override abort(source: number, reason: number): void {
    this.timers.stop();
    this.log.info({ source, reason }, 'association aborted by peer');
    this.connection.destroy();
  }

  override cEchoRequest(request: requests.CEchoRequest, callback: (response: responses.CEchoResponse) => void): void {
    const response = responses.CEchoResponse.fromRequest(request);
    response.setStatus(constants.Status.Success);
    callback(response);
  }

  override createStoreWritableStream(context: association.PresentationContext, request: requests.CStoreRequest): Writable {
    if (context.getResult() !== constants.PresentationContextResult.Accept) return this.abortForUnacceptedContext(context, request);
    const fileMeta = encodeFileMetaInformation({
      mediaStorageSopClassUid: request.getAffectedSopClassUid() ?? '',
      mediaStorageSopInstanceUid: request.getAffectedSopInstanceUid() ?? '',
      transferSyntaxUid: context.getAcceptedTransferSyntaxUid() ?? '',
      sourceApplicationEntityTitle: this.callingAeTitle,
    });
    const received = new ReceivedInstance(this.context.archive, fileMeta, this.context.config.maxInstanceBytes, this.connection,
      request.getAffectedSopInstanceUid(), sopClassRefusal(context, request));
    this.receiving.set(request, received);
    return received;
  }

  /**
   * dcmjs-dimse passes on P-DATA for any presentation context ID the peer names, accepted or not, and would store the
   * data set and answer on that context. A context we did not accept carries no agreed transfer syntax, so its bytes
   * cannot be read as anything: as pynetdicom and dcmtk do, the association is aborted (PS3.8 9.3.8: source service
   * provider, reason invalid PDU parameter value). The data set's PDVs still to come are read and dropped.
   */
  private abortForUnacceptedContext(context: association.PresentationContext, request: requests.CStoreRequest): Writable {
    this.log.warn({ presentationContextId: context.getPresentationContextId(), abstractSyntax: context.getAbstractSyntaxUid(),
      sopInstanceUid: request.getAffectedSopInstanceUid() }, 'C-STORE on a presentation context that was not accepted; association aborted');
    this.abortAssociation(A_ABORT_INVALID_PDU_PARAMETER);
    return new Writable({ highWaterMark: Number.MAX_SAFE_INTEGER, write: (_chunk, _encoding, done) => done() });
  }

  override createDatasetFromStoreWritableStream(
    _writable: Writable,
    context: association.PresentationContext,
    callback: (dataset: Dataset) => void,
  ): void {
    // The bytes are already on their way to disk (ReceivedInstance); the library only needs some Dataset to
    // attach to the request, so it gets an empty one instead of a parse of the whole instance.
    callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
  }

  override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
    const received = this.receiving.get(request);
    this.receiving.delete(request);
    if (this.refusedPdu) {
      // Its bytes may hold what the refused PDU carried (another message's PDV spliced into its data set).
      if (received) this.context.track(received.discard());
      return;
    }
    const work = this.storeInstance(request, received).then((response) => {
      if (!this.isClosed) callback(response);
    });
    this.storing.add(work);
    void work.finally(() => this.storing.delete(work));
    this.context.track(work);
  }

  private async storeInstance(request: requests.CStoreRequest, received: ReceivedInstance | undefined): Promise<responses.CStoreResponse> {
    let outcome: StoreOutcome;
    try {
      outcome = received ? await received.store() : { status: 'failed', error: new MipsegError('MIPSEG_DICOM_UNPARSEABLE', 'C-STORE without a data set') };
    } catch (err) {
      outcome = { status: 'failed', error: new MipsegError('MIPSEG_STORAGE_FAILED', String(err), { cause: err }) };
    }
    const result = cStoreResultFor(outcome);
    const response = responses.CStoreResponse.fromRequest(request);
    response.setStatus(result.status);
    if (result.errorComment !== undefined) response.setErrorComment(result.errorComment);
    const fields = { sopInstanceUid: request.getAffectedSopInstanceUid(), status: `0x${result.status.toString(16).padStart(4, '0')}` };
    if (outcome.status === 'failed') this.log.warn({ ...fields, code: outcome.error.code, err: outcome.error.message }, 'C-STORE refused');
    else this.log.debug({ ...fields, outcome: outcome.status }, 'C-STORE stored');
    if (outcome.status === 'stored') this.arriving(outcome.header.studyInstanceUid);
    return response;
  }

  /** DIMSE has no "study complete": see StudiesArriving, which starts the study's quiet period again while it is held. */
  private arriving(studyInstanceUid: string): void {
    if (!this.isClosed) this.studies.stored(studyInstanceUid);
  }

  private takeSlot(): AssociationRejection | undefined {
    const refusal = this.context.slots.acquire();
    if (refusal === undefined) {
      this.holdsSlot = true;
      return undefined;
    }
    return refusal === 'closing'
      ? busyRejection('the server is shutting down', 'congestion')
      : busyRejection(`already ${this.context.slots.max} associations open (DIMSE_MAX_ASSOCIATIONS)`, 'local-limit');
  }

  /** Ends the connection; destroys it if the peer does not close its side in time. */
  hangUp(): void {
    this.timers.stop();
    this.connection.end();
    setTimeout(() => this.connection.destroy(), HANG_UP_GRACE_MS).unref();
  }

  /**
   * Ends the association with an A-ABORT, so that the peer logs an abort (and resends what it had not been
   * answered for) rather than a network error, then closes the connection like hangUp.
   */
  abortAssociation(pdu: Buffer = A_ABORT_BY_USER): void {
    this.timers.stop();
    if (this.isClosed) return;
    this.connection.end(pdu);
    // A peer closes at once on an A-ABORT; this bounds a shutdown by a second more for one that does not.
    setTimeout(() => this.connection.destroy(), 1000).unref();
  }

  private giveBackSlot(): void {
    if (this.holdsSlot) this.context.slots.release();
    this.holdsSlot = false;
  }

  private async closed(): Promise<void> {
    this.timers.stop();
    this.giveBackSlot();
    // The quiet period runs from the end of the association (with none, each instance's store started its check).
    this.studies.end();
    const unfinished = [...this.receiving.values()];
    this.receiving.clear();
    if (unfinished.length > 0) this.log.warn({ unfinished: unfinished.length }, 'connection closed during a C-STORE data set');
    const discarding = Promise.allSettled(unfinished.map((r) => r.discard()));
    this.context.track(discarding);
    await discarding;
    this.log.debug('connection closed');
  }
}
