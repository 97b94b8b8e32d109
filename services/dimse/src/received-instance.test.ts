import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Archive, ReceivingFloorCheck } from '@mipseg/shared/store';
import { ReceivedInstance } from './received-instance';

/** A socket that only says whether it is held. */
function fakeSocket(): Socket & { held: boolean } {
  const socket = { held: false, pause() { socket.held = true; }, resume() { socket.held = false; } };
  return socket as unknown as Socket & { held: boolean };
}

describe('ReceivedInstance and the socket it reads from', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'mipseg-received-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('stays held while a free-space check is pending, though the file drains meanwhile', async () => {
    let checkDone: () => void = () => undefined;
    // No check for the first bytes, one (pending until checkDone) for the next.
    const floorCheck: ReceivingFloorCheck = (received) => (received < 100 ? undefined
      : new Promise<void>((resolve) => { checkDone = resolve; }));
    // A file stream that says "full" at once, so that the first data set bytes leave the file behind.
    const stream = createWriteStream(join(dir, 'part'), { highWaterMark: 1 });
    const archive = { blobs: { createTemp: () => ({ path: join(dir, 'part'), stream }) }, receivingFloorCheck: () => floorCheck };
    const socket = fakeSocket();
    const received = new ReceivedInstance(archive as unknown as Archive, Buffer.alloc(10), 1 << 20, socket, undefined);
    expect(socket.held).toBe(true); // the File Meta written: the file is behind
    received.write(Buffer.alloc(200)); // past 100 bytes: a check starts
    await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.held).toBe(true); // drained, but the check still holds it
    checkDone();
    await new Promise((resolve) => received.end(resolve));
    await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    expect(socket.held).toBe(false);
  });
});
