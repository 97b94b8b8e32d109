import { connect, type Socket } from 'node:net';
import {
  associateRequestProposing, dataSetOf, RELEASE_REQUEST, runTool, SCP_AE_TITLE, startTestDimse, syntheticInstance, type ProposedContext,
  type TestDimse,
} from './dimse-test-kit';

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const PET_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.128';
const NOT_A_STORAGE_CLASS = '1.2.826.0.1.3680043.8.498.999.1';
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

interface Pdu {
  readonly type: number;
  readonly body: Buffer;
}

/** What the SCP answered to one C-STORE-RQ: its C-STORE-RSP, or an A-ABORT (source, reason). */
type CStoreAnswer =
  | { readonly kind: 'response'; readonly status: number; readonly errorComment: string; readonly contextId: number }
  | { readonly kind: 'abort'; readonly source: number; readonly reason: number };

function element(tag: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0000, 0);
  header.writeUInt16LE(tag, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}
const us = (v: number): Buffer => Buffer.from([v & 0xff, v >> 8]);
const ui = (uid: string): Buffer => Buffer.from(uid.length % 2 === 0 ? uid : `${uid}\0`, 'latin1');

/** A C-STORE-RQ command set (PS3.7 9.3.1.1) in Implicit VR Little Endian, with its group length. */
function cStoreCommand(sopClassUid: string, sopInstanceUid: string, messageId: number): Buffer {
  const body = Buffer.concat([
    element(0x0002, ui(sopClassUid)), element(0x0100, us(0x0001)), element(0x0110, us(messageId)), element(0x0700, us(0)),
    element(0x0800, us(0x0000)), element(0x1000, ui(sopInstanceUid)),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length);
  return Buffer.concat([element(0x0000, groupLength), body]);
}

/** One PDV: item length, presentation context ID, message control header (bit 0 command, bit 1 last fragment), value. */
function pdv(contextId: number, controlHeader: number, value: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(2 + value.length, 0);
  head[4] = contextId;
  head[5] = controlHeader;
  return Buffer.concat([head, value]);
}

/** A P-DATA-TF PDU holding `pdvs`. */
function pDataOf(...pdvs: Buffer[]): Buffer {
  const body = Buffer.concat(pdvs);
  const head = Buffer.alloc(6);
  head[0] = 0x04;
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** A P-DATA-TF PDU holding one PDV: a whole command (0x03) or the last fragment of a data set (0x02). */
function pDataTf(contextId: number, controlHeader: number, value: Buffer): Buffer {
  return pDataOf(pdv(contextId, controlHeader, value));
}

/** A C-ECHO-RQ command set (PS3.7 9.3.5.1), with its group length. */
function cEchoCommand(messageId: number): Buffer {
  const body = Buffer.concat([element(0x0002, ui('1.2.840.10008.1.1')), element(0x0100, us(0x0030)), element(0x0110, us(messageId)),
    element(0x0800, us(0x0101))]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length);
  return Buffer.concat([element(0x0000, groupLength), body]);
}

function commandElements(command: Buffer): Map<number, Buffer> {
  const elements = new Map<number, Buffer>();
  for (let at = 0; at + 8 <= command.length;) {
    const tag = command.readUInt16LE(at + 2);
    const length = command.readUInt32LE(at + 4);
    elements.set(tag, command.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return elements;
}

/** An SCU that speaks PDUs itself, to send what dcmtk and dcmjs-dimse never send: a C-STORE on the wrong context. */
class RawScu {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  /** Sends an A-ASSOCIATE-RQ proposing `contexts`; resolves with the SCP's answer, whatever it is. */
  static async propose(port: number, contexts: readonly ProposedContext[]): Promise<{ scu: RawScu; answer: Pdu | undefined }> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const scu = new RawScu(socket);
    socket.write(associateRequestProposing(contexts));
    return { scu, answer: await scu.nextPdu() };
  }

  /** Associates, proposing `contexts`; resolves with the result the SCP gave each context (0: acceptance). */
  static async associate(port: number, contexts: readonly ProposedContext[]): Promise<{ scu: RawScu; results: Map<number, number> }> {
    const { scu, answer: accept } = await RawScu.propose(port, contexts);
    if (accept?.type !== 0x02) throw new Error(`no A-ASSOCIATE-AC: PDU type ${accept?.type}`);
    const results = new Map<number, number>();
    for (let at = 68; at + 4 <= accept.body.length;) {
      const itemType = accept.body[at];
      const itemLength = accept.body.readUInt16BE(at + 2);
      if (itemType === 0x21) results.set(accept.body[at + 4] ?? 0, accept.body[at + 6] ?? 0);
      at += 4 + itemLength;
    }
    return { scu, results };
  }

  /** The next whole PDU, or undefined once the SCP has closed the connection. */
  async nextPdu(timeoutMs = 10_000): Promise<Pdu | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffered.length >= 6) {
        const length = this.buffered.readUInt32BE(2);
        if (this.buffered.length >= 6 + length) {
          const pdu = { type: this.buffered[0] ?? 0, body: this.buffered.subarray(6, 6 + length) };
          this.buffered = this.buffered.subarray(6 + length);
          return pdu;
        }
      }
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error('no answer from the SCP');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Sends a C-STORE-RQ and its data set, both on presentation context `contextId`, and reads the answer. */
  async cStore(contextId: number, sopClassUid: string, sopInstanceUid: string, dataSet: Buffer, messageId: number): Promise<CStoreAnswer> {
    this.socket.write(pDataTf(contextId, 0x03, cStoreCommand(sopClassUid, sopInstanceUid, messageId)));
    this.socket.write(pDataTf(contextId, 0x02, dataSet));
    const pdu = await this.nextPdu();
    if (pdu?.type === 0x07) return { kind: 'abort', source: pdu.body[2] ?? -1, reason: pdu.body[3] ?? -1 };
    if (pdu?.type !== 0x04) throw new Error(`unexpected answer: ${pdu === undefined ? 'connection closed' : `PDU type ${pdu.type}`}`);
    const elements = commandElements(pdu.body.subarray(6));
    return {
      kind: 'response',
      contextId: pdu.body[4] ?? -1,
      status: elements.get(0x0900)?.readUInt16LE(0) ?? -1,
      errorComment: elements.get(0x0902)?.toString('latin1').trim() ?? '',
    };
  }

  /** Sends bytes as they are: PDUs no well-behaved SCU sends. */
  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async release(): Promise<void> {
    this.socket.write(RELEASE_REQUEST);
    await this.nextPdu();
    this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function instance(sopClassUid: string, modality: string, sopInstanceUid: string): Buffer {
  return dataSetOf(syntheticInstance({ sopClassUid, sopInstanceUid, modality }));
}

describe('DIMSE SCP and a C-STORE sent on a presentation context that does not carry it', () => {
  let dimse: TestDimse;
  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse.stop());

  test('a C-STORE on a context the SCP rejected ends the association with an A-ABORT and stores nothing', async () => {
    const { scu, results } = await RawScu.associate(dimse.port, [
      { id: 1, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
      { id: 3, abstractSyntax: NOT_A_STORAGE_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
    ]);
    try {
      expect(results.get(1)).toBe(0);
      expect(results.get(3)).toBe(3); // abstract syntax not supported
      const answer = await scu.cStore(3, CT_IMAGE_STORAGE, '2.25.7301', instance(CT_IMAGE_STORAGE, 'CT', '2.25.7301'), 1);
      // PS3.8 9.3.8: source 2, the service provider; reason 6, invalid PDU parameter value.
      expect(answer).toEqual({ kind: 'abort', source: 2, reason: 6 });
    } finally {
      scu.destroy();
    }
    expect(dimse.archive.index.findInstance('2.25.7301')).toBeUndefined();
    const echo = await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)]);
    expect(echo.code).toBe(0);
  });

  test('a C-STORE whose SOP class is not its context\'s is refused (0x0122) on that context, not stored, and the association goes on',
    async () => {
      const { scu, results } = await RawScu.associate(dimse.port, [
        { id: 1, abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
        { id: 3, abstractSyntax: PET_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] },
      ]);
      try {
        expect([results.get(1), results.get(3)]).toEqual([0, 0]);
        const wrong = await scu.cStore(1, PET_IMAGE_STORAGE, '2.25.7302', instance(PET_IMAGE_STORAGE, 'PT', '2.25.7302'), 1);
        expect(wrong).toMatchObject({ kind: 'response', contextId: 1, status: 0x0122 });
        expect(wrong.kind === 'response' && wrong.errorComment).toMatch(/presentation context 1/);
        const right = await scu.cStore(3, PET_IMAGE_STORAGE, '2.25.7303', instance(PET_IMAGE_STORAGE, 'PT', '2.25.7303'), 2);
        expect(right).toMatchObject({ kind: 'response', contextId: 3, status: 0x0000 });
        await scu.release();
      } finally {
        scu.destroy();
      }
      expect(dimse.archive.index.findInstance('2.25.7302')).toBeUndefined();
      expect(dimse.archive.index.findInstance('2.25.7303')).toBeDefined();
      expect(await dimse.tempFiles()).toEqual([]);
    });
});

/** PDUs whose PDVs break PS3.8's rules, which dcmjs-dimse does not check: the SCP aborts, and stores nothing of them. */
describe('DIMSE SCP and P-DATA that breaks the rules of PDVs', () => {
  let dimse: TestDimse;
  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse.stop());

  const VERIFICATION = { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] };
  const PET = { id: 3, abstractSyntax: PET_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] };
  const ABORTED = { type: 0x07, body: Buffer.from([0, 0, 2, 6]) };

  test('another context\'s PDV inside a C-STORE data set: A-ABORT, and the instance is not stored with the PDV in it', async () => {
    const { scu } = await RawScu.associate(dimse.port, [VERIFICATION, PET]);
    const dataSet = instance(PET_IMAGE_STORAGE, 'PT', '2.25.7311');
    try {
      scu.send(pDataTf(3, 0x03, cStoreCommand(PET_IMAGE_STORAGE, '2.25.7311', 1)));
      scu.send(pDataTf(3, 0x00, dataSet.subarray(0, 64)));
      scu.send(pDataTf(1, 0x01, Buffer.from('EVIL')));
      scu.send(pDataTf(3, 0x02, dataSet.subarray(64)));
      expect(await scu.nextPdu()).toEqual(ABORTED);
    } finally {
      scu.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(dimse.archive.index.findInstance('2.25.7311')).toBeUndefined();
    expect(await dimse.tempFiles()).toEqual([]);
  });

  test('two C-ECHO requests in one P-DATA-TF (the operations window is one): A-ABORT, not an answer that never comes', async () => {
    const { scu } = await RawScu.associate(dimse.port, [VERIFICATION]);
    try {
      scu.send(pDataOf(pdv(1, 0x03, cEchoCommand(7)), pdv(1, 0x03, cEchoCommand(8))));
      expect(await scu.nextPdu()).toEqual(ABORTED);
    } finally {
      scu.destroy();
    }
  });

  test('a PDU type PS3.8 does not have: A-ABORT at once, and the connection closed, whatever the peer sends after it', async () => {
    const { scu } = await RawScu.associate(dimse.port, [VERIFICATION]);
    try {
      scu.send(Buffer.from([0x09, 0x00, 0x00, 0x0f, 0x42, 0x40]));
      scu.send(Buffer.alloc(64 * 1024));
      expect(await scu.nextPdu()).toEqual(ABORTED);
      expect(await scu.nextPdu()).toBeUndefined();
    } finally {
      scu.destroy();
    }
    const echo = await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)]);
    expect(echo.code).toBe(0);
  });
});

describe('DIMSE SCP and an A-ASSOCIATE-RQ whose presentation context IDs break PS3.8 9.3.2.2 (odd, 1-255, each once)', () => {
  let dimse: TestDimse;
  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse.stop());

  const ABORTED = { type: 0x07, body: Buffer.from([0, 0, 2, 6]) };
  const verification = (id: number): ProposedContext => ({ id, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] });
  const pet = (id: number): ProposedContext => ({ id, abstractSyntax: PET_IMAGE_STORAGE, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] });
  const everyOddId = Array.from({ length: 128 }, (_, i) => 2 * i + 1);

  async function answerTo(contexts: readonly ProposedContext[]): Promise<{ first: Pdu | undefined; then: Pdu | undefined }> {
    const { scu, answer } = await RawScu.propose(dimse.port, contexts);
    try {
      return { first: answer, then: await scu.nextPdu() };
    } finally {
      scu.destroy();
    }
  }

  test.each([
    ['129 contexts (one ID over again)', [...everyOddId.map(pet), verification(1)]],
    ['an ID proposed twice', [verification(1), pet(1)]],
    ['an even ID', [verification(1), pet(2)]],
  ])('%s: A-ABORT (invalid PDU parameter) and the connection closed, and the SCP goes on serving', async (_what, contexts) => {
    expect(await answerTo(contexts)).toEqual({ first: ABORTED, then: undefined });
    const echo = await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)]);
    expect(echo.code).toBe(0);
  });

  test('128 contexts with IDs 1 to 255 are each answered under the ID proposed', async () => {
    const { scu, results } = await RawScu.associate(dimse.port, [verification(1), ...everyOddId.slice(1).map(pet)]);
    try {
      expect([...results.keys()]).toEqual(everyOddId);
      expect(results.get(1)).toBe(0);
    } finally {
      await scu.release();
    }
  });
});
