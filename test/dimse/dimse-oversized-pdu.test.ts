import { connect } from 'node:net';
import { associateRequest, runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

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
