import { connect, type Socket } from 'node:net';
import { runTool, SCP_AE_TITLE, startTestDimse, type TestDimse } from './dimse-test-kit';
import { until } from '../support/until';

/** Connections without an association the server keeps (dimse-server.ts UNASSOCIATED_MAX). */
const KEPT = 16;

describe('connections that never associate', () => {
  let dimse: TestDimse;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    dimse = await startTestDimse({ DIMSE_MAX_ASSOCIATIONS: '1' });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await dimse.stop();
  });

  const open = async (): Promise<{ socket: Socket; closed: () => boolean }> => {
    const socket = connect(dimse.port, '127.0.0.1');
    sockets.push(socket);
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { socket, closed: () => closed };
  };

  test('beyond 16 silent connections the oldest are closed, not the new ones, and a PACS still associates', async () => {
    const silent: Array<{ socket: Socket; closed: () => boolean }> = [];
    for (let i = 0; i < KEPT + 4; i++) silent.push(await open());
    // Not the 30 s a connection has to send its A-ASSOCIATE-RQ: the four oldest give way to the four newest.
    await until(() => Promise.resolve(silent.slice(0, 4).every((s) => s.closed()) ? true : undefined), 'the oldest to be closed',
      { timeoutMs: 10_000 });
    expect(silent.slice(4).filter((s) => s.closed())).toEqual([]);
    // A flood of silent connections cannot lock a peer out: its connection is the newest.
    const echo = await runTool('echoscu', ['-aec', SCP_AE_TITLE, '127.0.0.1', String(dimse.port)]);
    expect(echo.code).toBe(0);
  });
});
