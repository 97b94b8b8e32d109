import { givenInPartWarning, mapInOrder } from './metadata-reads';

/** A call that ends when `finish(k)` is called, so the test decides the order calls end in. */
function controlledCalls() {
  const finishers = new Map<number, (value: string) => void>();
  const failers = new Map<number, (err: Error) => void>();
  let inFlight = 0;
  let most = 0;
  const map = (k: number): Promise<string> => {
    inFlight++;
    most = Math.max(most, inFlight);
    return new Promise<string>((resolve, reject) => {
      finishers.set(k, (v) => { inFlight--; resolve(v); });
      failers.set(k, (e) => { inFlight--; reject(e); });
    });
  };
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return { map, finish: (k: number) => finishers.get(k)?.(`item ${k}`), fail: (k: number) => failers.get(k)?.(new Error(`item ${k} gone`)),
    tick, most: () => most };
}

test('yields in the order of the items whatever order the calls end in, never more than the limit in flight', async () => {
  const calls = controlledCalls();
  const items = [0, 1, 2, 3, 4, 5];
  const seen: string[] = [];
  const reading = (async () => { for await (const v of mapInOrder(items, 2, calls.map)) seen.push(v); })();
  await calls.tick();
  calls.finish(1); // the second ends first: nothing can be yielded before the first
  await calls.tick();
  expect(seen).toEqual([]);
  for (const k of [0, 2, 3, 5, 4]) {
    calls.finish(k);
    await calls.tick();
    await calls.tick();
  }
  await reading;
  expect(seen).toEqual(items.map((k) => `item ${k}`));
  expect(calls.most()).toBe(2);
});

test('a failed call fails the read at its turn; a consumer that stops early leaves no unhandled rejection', async () => {
  const calls = controlledCalls();
  const unhandled = jest.fn();
  process.on('unhandledRejection', unhandled);
  try {
    const generator = mapInOrder([0, 1, 2], 3, calls.map);
    const first = generator.next();
    await calls.tick();
    calls.fail(0);
    await expect(first).rejects.toThrow('item 0 gone');
    calls.fail(1);
    calls.fail(2);
    await calls.tick();
    await calls.tick();
    expect(unhandled).not.toHaveBeenCalled();
  } finally {
    process.off('unhandledRejection', unhandled);
  }
});

test('the Warning for instances given in part names ten with their codes and counts the rest', () => {
  const givenInPart = Array.from({ length: 12 }, (_, k) => ({ sopInstanceUid: `2.25.${k}`, code: 'MIPSEG_DICOM_UNPARSEABLE' as const }));
  const warning = givenInPartWarning(givenInPart) ?? '';
  expect(warning).toContain('metadata of 12 instance(s) given in part');
  expect(warning).toContain('2.25.9 (MIPSEG_DICOM_UNPARSEABLE) and 2 more');
  expect(warning).not.toContain('2.25.10');
  expect(givenInPartWarning([])).toBeUndefined();
});
