import { MAX_OTHER_PDU_LENGTH, MAX_P_DATA_TF_LENGTH, PduLengthGuard } from './pdu-length-guard';

/** A PDU header (type, reserved, 32-bit big-endian length) and `bodyBytes` of body. */
function pdu(type: number, length: number, bodyBytes = length): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(length, 2);
  return Buffer.concat([head, Buffer.alloc(bodyBytes)]);
}

/** One PDV: item length, presentation context ID, message control header (bit 0 command, bit 1 last), value. */
function pdv(contextId: number, control: number, value: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(value.length + 2, 0);
  head.writeUInt8(contextId, 4);
  head.writeUInt8(control, 5);
  return Buffer.concat([head, value]);
}

/** A P-DATA-TF holding `pdvs`. */
function pData(...pdvs: Buffer[]): Buffer {
  const body = Buffer.concat(pdvs);
  const head = Buffer.alloc(6);
  head.writeUInt8(0x04, 0);
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** A command set holding CommandDataSetType (0000,0800): 0x0101 no data set follows, 0x0000 one does. */
function command(dataSetType: number): Buffer {
  const element = Buffer.alloc(10);
  element.writeUInt16LE(0x0000, 0);
  element.writeUInt16LE(0x0800, 2);
  element.writeUInt32LE(2, 4);
  element.writeUInt16LE(dataSetType, 8);
  return element;
}

const NO_DATA_SET = command(0x0101);
const WITH_DATA_SET = command(0x0000);

/** What the guard says of `stream`, fed in chunks of `size` bytes: the first refusal's reason, or undefined. */
function refusalOf(stream: Buffer, size = stream.length): string | undefined {
  const guard = new PduLengthGuard();
  for (let i = 0; i < stream.length; i += size) {
    const refusal = guard.accept(stream.subarray(i, i + size));
    if (refusal) return refusal.reason;
  }
  return undefined;
}

describe('PduLengthGuard', () => {
  test('lets through PDUs up to the limits and well-formed messages, however the bytes are split into chunks', () => {
    const store = [pData(pdv(3, 0x01, WITH_DATA_SET.subarray(0, 4))), pData(pdv(3, 0x03, WITH_DATA_SET.subarray(4)), pdv(3, 0x00, Buffer.alloc(100))),
      pData(pdv(3, 0x02, Buffer.alloc(MAX_P_DATA_TF_LENGTH - 8)))];
    const stream = Buffer.concat([pdu(0x01, 300), ...store, pData(pdv(1, 0x03, NO_DATA_SET)), pdu(0x05, 4)]);
    for (const size of [1, 5, 6, 7, 11, 1000, 65_536, stream.length]) expect(refusalOf(stream, size)).toBeUndefined();
  });

  test('reports a P-DATA-TF longer than the Maximum Length Received, at its header', () => {
    const guard = new PduLengthGuard();
    expect(guard.accept(pData(pdv(1, 0x03, NO_DATA_SET)))).toBeUndefined();
    const header = pdu(0x04, MAX_P_DATA_TF_LENGTH + 1, 0);
    expect(guard.accept(header.subarray(0, 3))).toBeUndefined();
    expect(guard.accept(header.subarray(3))).toMatchObject({ pduType: 0x04, length: MAX_P_DATA_TF_LENGTH + 1, limit: MAX_P_DATA_TF_LENGTH });
  });

  test('reports an A-ASSOCIATE-RQ announcing gigabytes', () => {
    expect(new PduLengthGuard().accept(pdu(0x01, 0xfffffff0, 10))).toMatchObject({ pduType: 0x01, length: 0xfffffff0, limit: MAX_OTHER_PDU_LENGTH });
  });

  test('reports an A-ASSOCIATE-RQ, -AC or -RJ after the connection\'s A-ASSOCIATE-RQ as unexpected (PS3.8 AA-8)', () => {
    const established = [pdu(0x01, 300), pData(pdv(1, 0x03, NO_DATA_SET))];
    for (const type of [0x01, 0x02, 0x03]) {
      const guard = new PduLengthGuard();
      for (const before of established) expect(guard.accept(before)).toBeUndefined();
      expect(guard.accept(pdu(type, 300))).toMatchObject({ pduType: type, unexpected: true });
    }
    expect(refusalOf(Buffer.concat([pdu(0x01, 300), pdu(0x01, 300)]))).toMatch(/A-ASSOCIATE-RQ after the connection's A-ASSOCIATE-RQ/);
  });

  test('reports a PDU type PS3.8 does not have, after which the PDU boundaries could not be followed', () => {
    expect(refusalOf(pdu(0x09, 1_000_000, 0))).toMatch(/PDU type 9/);
  });

  test('reports a PDV of another presentation context, or a command PDV, inside a C-STORE data set', () => {
    const opened = [pData(pdv(3, 0x03, WITH_DATA_SET)), pData(pdv(3, 0x00, Buffer.from('first')))];
    expect(refusalOf(Buffer.concat([...opened, pData(pdv(1, 0x01, Buffer.from('EVIL')))]))).toMatch(/context 1 inside a message on 3/);
    expect(refusalOf(Buffer.concat([...opened, pData(pdv(3, 0x01, Buffer.from('EVIL')))]))).toMatch(/command PDV inside a data set/);
  });

  test('reports data before a command, and data before the command\'s last fragment', () => {
    expect(refusalOf(pData(pdv(3, 0x02, Buffer.from('data'))))).toMatch(/no command before it/);
    expect(refusalOf(Buffer.concat([pData(pdv(3, 0x01, WITH_DATA_SET.subarray(0, 4))), pData(pdv(3, 0x02, Buffer.from('data')))])))
      .toMatch(/before the last fragment/);
  });

  test('reports a second message in one P-DATA-TF (the operations window is one), and PDVs that do not fit their PDU', () => {
    expect(refusalOf(pData(pdv(1, 0x03, NO_DATA_SET), pdv(1, 0x03, NO_DATA_SET)))).toMatch(/second message/);
    const cut = pData(pdv(1, 0x03, NO_DATA_SET));
    cut.writeUInt32BE(cut.readUInt32BE(2) - 2, 2);
    expect(refusalOf(cut.subarray(0, cut.length - 2))).toMatch(/running past the end/);
    expect(refusalOf(pData(Buffer.from([0, 0, 0, 1, 1, 3])))).toMatch(/PDV of length 1/);
  });
});
