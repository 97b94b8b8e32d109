import { Client, constants, requests, responses, Scp, Server } from 'dcmjs-dimse';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendInstancesDimse, type StoreScuOptions } from '@mipseg/dimse';
import { SopClass } from '@mipseg/shared/dicom';
import { AcceptingScp, dataSetOf, freePort, SCP_AE_TITLE, startTestDimse, storedFile, syntheticInstance, type TestDimse } from './dimse-test-kit';

const UltrasoundImageStorage = '1.2.840.10008.5.1.4.1.1.6.1';
const PET = SopClass.PositronEmissionTomographyImageStorage;

describe('sendInstancesDimse (C-STORE SCU) against mipseg\'s own SCP', () => {
  let dimse: TestDimse;
  let scratch: string;
  const send = (files: string[], extra: Partial<StoreScuOptions> = {}) => sendInstancesDimse({
    host: '127.0.0.1', port: dimse.port, callingAeTitle: 'MIPSEG_SCU', calledAeTitle: SCP_AE_TITLE, files, ...extra,
  });
  const file = async (name: string, bytes: Buffer | string) => {
    const path = join(scratch, name);
    await writeFile(path, bytes);
    return path;
  };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'mipseg-scu-'));
    dimse = await startTestDimse();
  });
  afterAll(async () => {
    await dimse?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  test('stores instances and reports each as sent with status 0x0000, data set unchanged', async () => {
    const bytes = syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.11', modality: 'PT' });
    const results = await send([await file('a.dcm', bytes), await file('b.dcm',
      syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.12', modality: 'PT' }))]);
    expect(results.map((r) => [r.sopInstanceUid, r.outcome, r.status])).toEqual([['2.25.11', 'sent', 0], ['2.25.12', 'sent', 0]]);
    expect(dataSetOf(await storedFile(dimse, '2.25.11')).equals(dataSetOf(bytes))).toBe(true);
  });

  test('reports every failure per instance and never as sent', async () => {
    const results = await send([
      await file('ok.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.21', modality: 'PT' })),
      await file('notes.txt', 'not DICOM at all'),
      await file('us.dcm', syntheticInstance({ sopClassUid: UltrasoundImageStorage, sopInstanceUid: '2.25.22', modality: 'US' })),
      await file('ct-as-pet.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.23', modality: 'CT' })),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['sent', 'failed', 'failed', 'failed']);
    expect(results[1]?.reason).toMatch(/PS3\.10/);
    expect(results[2]?.reason).toMatch(/no presentation context/);
    expect(results[3]?.status).toBe(0xa900);
    expect(results[3]?.reason).toMatch(/Modality/);
    expect(dimse.archive.index.findInstance('2.25.23')).toBeUndefined();
  });

  test('refuses an instance over MAX_INSTANCE_BYTES with 0xC412, as too large (not a storage fault), and keeps no partial file', async () => {
    const small = await startTestDimse({ MAX_INSTANCE_BYTES: '4096' });
    try {
      const path = await file('big.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.61', modality: 'PT', pixelDataBytes: 64 * 1024 }));
      const [result] = await send([path], { port: small.port });
      expect(result).toMatchObject({ outcome: 'failed', status: 0xc412, reason: expect.stringMatching(/MAX_INSTANCE_BYTES/) });
      expect(result?.reason).not.toMatch(/could not persist/);
      expect(await small.tempFiles()).toEqual([]);
      expect(small.archive.index.countInstances()).toBe(0);
    } finally {
      await small.stop();
    }
  });

  test('reports a called AE title the peer does not know as failed', async () => {
    const path = await file('c.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.31', modality: 'PT' }));
    const [result] = await send([path], { calledAeTitle: 'NOT_MIPSEG' });
    expect(result).toMatchObject({ outcome: 'failed', reason: expect.stringMatching(/called AE title not recognized/) });
  });

  test('gives up on a peer that accepts the connection and never answers after peerTimeoutMs, as retryable, saying so', async () => {
    const silent = createServer(() => undefined); // takes the connection, reads nothing, says nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const port = (silent.address() as AddressInfo).port;
      const [result] = await send([await file('hung.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.71', modality: 'PT' }))],
        { port, peerTimeoutMs: 1000 });
      expect(result).toMatchObject({ outcome: 'retryable', reason: `${SCP_AE_TITLE}@127.0.0.1:${port} took the connection but did not answer `
        + 'the association request (A-ASSOCIATE-RQ) within 1 s' });
      expect(Date.now() - started).toBeLessThan(30_000); // not the 10-minute association timeout
    } finally {
      silent.close();
    }
  }, 60_000);

  test('reports a peer that aborts the association as retryable at once, with the abort\'s source and reason', async () => {
    // An SCP that accepts, then answers the C-STORE with an A-ABORT and leaves its socket open (as some do).
    class AbortingScp extends AcceptingScp {
      override cStoreRequest(): void {
        this.sendAbort(constants.AbortSource.ServiceProvider, constants.AbortReason.NotSpecified);
      }
    }
    const port = await freePort();
    const server = new Server(AbortingScp);
    server.listen(port);
    try {
      const [result] = await send([await file('aborted.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.72', modality: 'PT' }))],
        { port, peerTimeoutMs: 30_000 });
      expect(result).toMatchObject({ outcome: 'retryable', reason: `${SCP_AE_TITLE}@127.0.0.1:${port} aborted the association `
        + '(source 2, reason 0) while waiting for the C-STORE response for instance 2.25.72' });
    } finally {
      server.close();
    }
  }, 60_000);

  test('gives up on a peer that answers one C-STORE and not the next after peerTimeoutMs, naming the instance awaited', async () => {
    // An SCP that stores the first instance and never answers the second (a PACS that takes minutes per instance).
    class StallingScp extends AcceptingScp {
      private answered = 0;
      override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
        if (this.answered++ > 0) return;
        const response = responses.CStoreResponse.fromRequest(request);
        response.setStatus(constants.Status.Success);
        callback(response);
      }
    }
    const port = await freePort();
    const server = new Server(StallingScp);
    server.listen(port);
    try {
      const files = [
        await file('answered.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.75', modality: 'PT' })),
        await file('stalled.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.76', modality: 'PT' })),
      ];
      const [answered, stalled] = await send(files, { port, peerTimeoutMs: 1000 });
      expect(answered).toMatchObject({ outcome: 'sent', status: 0 });
      expect(stalled).toMatchObject({ outcome: 'retryable',
        reason: `no C-STORE response from ${SCP_AE_TITLE}@127.0.0.1:${port} within 1 s for instance 2.25.76` });
    } finally {
      server.close();
    }
  }, 30_000);

  test('reports a C-STORE response without a Status as failed, saying so, not as "no C-STORE status" (no answer)', async () => {
    class StatuslessScp extends AcceptingScp {
      override cStoreRequest(request: requests.CStoreRequest, callback: (response: responses.CStoreResponse) => void): void {
        const response = responses.CStoreResponse.fromRequest(request);
        // dcmjs-dimse's Dataset takes undefined as "remove the element"; its types know only values.
        (response.getCommandDataset() as unknown as { setElement(tag: string, value: unknown): void }).setElement('Status', undefined);
        callback(response);
      }
    }
    const port = await freePort();
    const server = new Server(StatuslessScp);
    server.listen(port);
    try {
      const [result] = await send([await file('statusless.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.74', modality: 'PT' }))],
        { port });
      expect(result).toEqual(expect.objectContaining({ outcome: 'failed', reason: 'the peer\'s C-STORE response has no Status (0000,0900)' }));
      expect(result?.status).toBeUndefined();
    } finally {
      server.close();
    }
  });

  test('reports a "permanent" rejection for a limit reached (source 3, as some PACS answer when busy) as retryable', async () => {
    class OverLimitScp extends Scp {
      override associationRequested(): void {
        this.sendAssociationReject(constants.RejectResult.Permanent, constants.RejectSource.ServiceProviderPresentation,
          constants.RejectReason.LocalLimitExceeded);
      }
    }
    const port = await freePort();
    const server = new Server(OverLimitScp);
    server.listen(port);
    try {
      const [result] = await send([await file('busy.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.73', modality: 'PT' }))],
        { port });
      expect(result).toMatchObject({ outcome: 'retryable', reason: 'association rejected (permanent): local limit exceeded' });
    } finally {
      server.close();
    }
  });

  test('reports a peer that is not listening as retryable, naming it', async () => {
    const path = await file('d.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.41', modality: 'PT' }));
    const port = await freePort();
    const [result] = await send([path], { port });
    expect(result).toMatchObject({ outcome: 'retryable',
      reason: `could not connect to ${SCP_AE_TITLE}@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(result?.status).toBeUndefined();
  });

  test('reports a transient association rejection (association limit) as retryable', async () => {
    const limited = await startTestDimse({ DIMSE_MAX_ASSOCIATIONS: '1' });
    try {
      const holder = new Client();
      holder.addRequest(new requests.CEchoRequest());
      const accepted = new Promise<void>((resolve) => holder.on('associationAccepted', () => resolve()));
      const closed = new Promise<void>((resolve) => holder.on('closed', () => resolve()));
      holder.send('127.0.0.1', limited.port, 'HOLDER', SCP_AE_TITLE, { associationLingerTimeout: 2000 });
      await accepted;
      const path = await file('e.dcm', syntheticInstance({ sopClassUid: PET, sopInstanceUid: '2.25.51', modality: 'PT' }));
      const [result] = await send([path], { port: limited.port });
      expect(result).toMatchObject({ outcome: 'retryable', reason: expect.stringMatching(/transient.*local limit exceeded/) });
      await closed;
    } finally {
      await limited.stop();
    }
  });
});
