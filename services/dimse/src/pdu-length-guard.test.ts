import { MAX_OTHER_PDU_LENGTH, MAX_P_DATA_TF_LENGTH, PduLengthGuard } from './pdu-length-guard';

/** A PDU header (type, reserved, 32-bit big-endian length) and `bodyBytes` of body. */
function pdu(type: number, length: number, bodyBytes = length): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(length, 2);
  return Buffer.concat([head, Buffer.alloc(bodyBytes)]);
}

describe('PduLengthGuard', () => {
  test('lets through PDUs up to the limits, however the bytes are split into chunks', () => {
    const stream = Buffer.concat([pdu(0x01, 300), pdu(0x04, MAX_P_DATA_TF_LENGTH), pdu(0x04, 12), pdu(0x05, 4)]);
    for (const size of [1, 5, 6, 7, 1000, 65_536, stream.length]) {
      const guard = new PduLengthGuard();
      for (let i = 0; i < stream.length; i += size) expect(guard.accept(stream.subarray(i, i + size))).toBeUndefined();
    }
  });

  test('reports a P-DATA-TF longer than the Maximum Length Received, at its header', () => {
    const guard = new PduLengthGuard();
    expect(guard.accept(pdu(0x04, 100))).toBeUndefined();
    const header = pdu(0x04, MAX_P_DATA_TF_LENGTH + 1, 0);
    expect(guard.accept(header.subarray(0, 3))).toBeUndefined();
    expect(guard.accept(header.subarray(3))).toEqual({ pduType: 0x04, length: MAX_P_DATA_TF_LENGTH + 1, limit: MAX_P_DATA_TF_LENGTH });
  });

  test('reports an A-ASSOCIATE-RQ announcing gigabytes', () => {
    expect(new PduLengthGuard().accept(pdu(0x01, 0xfffffff0, 10))).toEqual({ pduType: 0x01, length: 0xfffffff0, limit: MAX_OTHER_PDU_LENGTH });
  });
});
