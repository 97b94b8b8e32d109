import { connect } from 'node:net';
import pino from 'pino';
import { associateRequest, RELEASE_REQUEST, runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';

/** A-ABORT (PS3.8 9.3.8): source 2, service provider; reason 2, unexpected PDU (AA-8). */
const A_ABORT_UNEXPECTED_PDU = [0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x02];
/** A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected permanent, by the service user, no reason given. */
const ASSOCIATE_REJECT = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x01]);

interface RawAssociation {
  /** The SCP's A-ASSOCIATE-AC, whole. */
  readonly accepted: Promise<Buffer>;
  /** Every PDU the SCP sent, whole, once it has closed the connection. */
  readonly closed: Promise<Buffer[]>;
  send(pdu: Buffer): void;
  /** The next PDU the SCP sends after this call. */
  next(): Promise<Buffer>;
  destroy(): void;
}

/** An association opened by a raw SCU, which then sends what the test tells it to. */
function rawAssociation(port: number, callingAeTitle: string): RawAssociation {
  const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(associateRequest(16_384, callingAeTitle)));
  socket.on('error', () => undefined);
  const pdus: Buffer[] = [];
  const waiting: Array<(pdu: Buffer) => void> = [];
  let pending = Buffer.alloc(0);
  let accept: (pdu: Buffer) => void = () => undefined;
  const accepted = new Promise<Buffer>((resolve) => (accept = resolve));
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 6 && pending.length >= 6 + pending.readUInt32BE(2)) {
      const pdu = pending.subarray(0, 6 + pending.readUInt32BE(2));
      pending = pending.subarray(pdu.length);
      pdus.push(pdu);
      if (pdus.length === 1 && pdu[0] === 0x02) accept(pdu);
      else waiting.shift()?.(pdu);
    }
  });
  const closed = new Promise<Buffer[]>((resolve) => socket.once('close', () => resolve(pdus)));
  return {
    accepted,
    closed,
    send: (pdu) => socket.write(pdu),
    next: () => new Promise((resolve) => waiting.push(resolve)),
    destroy: () => socket.destroy(),
  };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('DIMSE SCP and an association-establishment PDU on an established association (PS3.8 AA-8)', () => {
  let dimse: TestDimse;
  const opened: RawAssociation[] = [];
  const logged: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    dimse = await startTestDimse({}, pino({ level: 'warn' }, { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) }));
  });
  afterAll(async () => {
    for (const association of opened) association.destroy();
    await dimse.stop();
  });

  const associate = async (callingAeTitle: string): Promise<{ association: RawAssociation; accept: Buffer }> => {
    const association = rawAssociation(dimse.port, callingAeTitle);
    opened.push(association);
    return { association, accept: await within(association.accepted, 5000, 'A-ASSOCIATE-AC') };
  };

  /** Sends `unexpected` on an established association; returns the PDUs the SCP sent after its A-ASSOCIATE-AC. */
  const answerTo = async (unexpected: (accept: Buffer) => Buffer): Promise<number[][]> => {
    const { association, accept } = await associate('TWICE');
    association.send(unexpected(accept));
    const pdus = await within(association.closed, 5000, 'close of the connection');
    return pdus.slice(1).map((pdu) => [...pdu]);
  };

  test('answers a second A-ASSOCIATE-RQ with an A-ABORT (unexpected PDU) and closes, leaving other associations and the server running', async () => {
    const bystander = await associate('BYSTANDER');
    expect(await answerTo(() => associateRequest(16_384, 'TWICE'))).toEqual([A_ABORT_UNEXPECTED_PDU]);
    const released = bystander.association.next();
    bystander.association.send(RELEASE_REQUEST);
    expect((await within(released, 5000, 'A-RELEASE-RP'))[0]).toBe(0x06);
    expect((await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)])).code).toBe(0);
  });

  test('logs the refused PDU at warn with the peer\'s address and calling AE title', async () => {
    logged.length = 0;
    await answerTo(() => associateRequest(16_384, 'TWICE'));
    expect(logged).toContainEqual(expect.objectContaining({ level: 40, pduType: 0x01, callingAeTitle: 'TWICE',
      peer: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1:\d+$/) as unknown }));
  });

  test('answers an A-ASSOCIATE-AC from the peer with an A-ABORT (unexpected PDU)', async () => {
    expect(await answerTo((accept) => accept)).toEqual([A_ABORT_UNEXPECTED_PDU]);
  });

  test('answers an A-ASSOCIATE-RJ from the peer with an A-ABORT (unexpected PDU)', async () => {
    expect(await answerTo(() => ASSOCIATE_REJECT)).toEqual([A_ABORT_UNEXPECTED_PDU]);
  });
});
