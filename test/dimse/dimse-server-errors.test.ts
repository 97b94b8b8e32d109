import { connect } from 'node:net';
import { startTestDimse, type TestDimse } from './dimse-test-kit';

describe('the DIMSE SCP once listening', () => {
  let dimse: TestDimse;
  beforeAll(async () => { dimse = await startTestDimse(); });
  afterAll(() => dimse.stop());

  test('survives server errors (an accept that fails with EMFILE) and keeps accepting connections', async () => {
    // What net.Server emits when accept() fails: with no 'error' listener, the first one ended the process.
    const accept = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
    expect(() => { dimse.server.server.emit('error', accept); dimse.server.server.emit('error', accept); }).not.toThrow();
    await new Promise<void>((resolve, reject) => {
      const socket = connect(dimse.port, '127.0.0.1', () => { socket.destroy(); resolve(); });
      socket.once('error', reject);
    });
  });
});
