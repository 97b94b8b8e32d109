import { isMipsegError } from '../errors';
import { FreeSpaceFloor } from './free-space-floor';

const refusal = async (floor: FreeSpaceFloor, bytes: number): Promise<string | undefined> => {
  try {
    await floor.assertRoomFor(bytes);
    return undefined;
  } catch (err) {
    return isMipsegError(err) ? err.code : String(err);
  }
};

describe('FreeSpaceFloor', () => {
  test('refuses once the stores since the last reading have taken the volume below the floor', async () => {
    let reads = 0;
    const floor = new FreeSpaceFloor(() => Promise.resolve(++reads && 1000), 700);
    expect(await refusal(floor, 200)).toBeUndefined(); // 1000 free
    expect(await refusal(floor, 200)).toBeUndefined(); // 800
    expect(await refusal(floor, 200)).toBe('MIPSEG_STORAGE_FULL'); // 600, within the same second: not read again
    expect(reads).toBe(1);
  });

  test('a volume whose free space cannot be read is not taken for a full one', async () => {
    const floor = new FreeSpaceFloor(() => Promise.reject(new Error('EIO')), 700);
    expect(await refusal(floor, 200)).toBeUndefined();
  });

  test('a floor of 0 reads nothing', async () => {
    const floor = new FreeSpaceFloor(() => Promise.reject(new Error('never read')), 0);
    expect(await refusal(floor, 200)).toBeUndefined();
  });
});
