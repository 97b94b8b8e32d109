import { connect } from 'node:net';
import { runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

/** Sends `bytes` and collects what the SCP answers until it closes the connection (or `timeoutMs` passes). */
function sendRaw(port: number, bytes: Buffer, timeoutMs: number): Promise<{ answer: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer: Buffer.concat(chunks), closed: false });
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer: Buffer.concat(chunks), closed: true });
    });
  });
}

const item = (type: number, body: Buffer): Buffer => {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
};
const uidItem = (type: number, uid: string): Buffer => item(type, Buffer.from(uid, 'latin1'));
const aeTitle = (title: string): Buffer => Buffer.from(title.padEnd(16, ' '), 'latin1');

/** An A-ASSOCIATE-RQ proposing Verification, announcing `maxLength` as its Maximum Length Received (PS3.8 D.1). */
function associateRequest(maxLength: number): Buffer {
  const context = item(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0]), uidItem(0x30, '1.2.840.10008.1.1'), uidItem(0x40, '1.2.840.10008.1.2')]));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(maxLength);
  const userInfo = item(0x50, Buffer.concat([item(0x51, length), uidItem(0x52, '1.2.826.0.1.3680043.8.498.1')]));
  const body = Buffer.concat([Buffer.from([0, 1, 0, 0]), aeTitle(SCP_AE_TITLE), aeTitle('RAWSCU'), Buffer.alloc(32),
    uidItem(0x10, '1.2.840.10008.3.1.1.1'), context, userInfo]);
  const header = Buffer.alloc(6);
  header[0] = 0x01;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** The Maximum Length Received an A-ASSOCIATE-AC announces (its user information sub-item 0x51). */
function announcedMaximum(accept: Buffer): number {
  expect(accept[0]).toBe(0x02);
  const at = accept.indexOf(Buffer.from([0x51, 0x00, 0x00, 0x04]), 74);
  expect(at).toBeGreaterThan(0);
  return accept.readUInt32BE(at + 4);
}

describe('DIMSE SCP and a peer announcing a PDU longer than it takes', () => {
  let dimse: TestDimse;
  beforeAll(async () => {
    dimse = await startTestDimse();
  });
  afterAll(() => dimse.stop());

  test('aborts at the header (A-ABORT, invalid PDU parameter) instead of buffering it, and keeps serving', async () => {
    const header = Buffer.from([0x01, 0x00, 0xff, 0xff, 0xff, 0xf0]); // A-ASSOCIATE-RQ of almost 4 GiB
    const { answer, closed } = await sendRaw(dimse.port, Buffer.concat([header, Buffer.alloc(64 * 1024)]), 5000);
    expect(closed).toBe(true);
    expect([...answer.subarray(0, 10)]).toEqual([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x06]);
    const echo = await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)]);
    expect(echo.code).toBe(0);
  });

  test('announces the length it takes, never "no limit", to a peer that announces none (0) or a larger one', async () => {
    const announced: number[] = [];
    for (const peer of [0, 16_384, 1 << 20]) {
      const { answer } = await sendRaw(dimse.port, associateRequest(peer), 1000);
      announced.push(announcedMaximum(answer));
    }
    expect(announced).toEqual([262_144, 16_384, 262_144]);
  });
});
