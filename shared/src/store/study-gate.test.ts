import { StudyGate } from './study-gate';

/** A promise and the function that settles it, for work a test finishes by hand. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('StudyGate: a deletion runs alone among the stores of its study', () => {
  test('waits for the stores in progress, and holds the stores that arrive meanwhile until it is done', async () => {
    const gate = new StudyGate();
    const events: string[] = [];
    const first = deferred();
    const storing = gate.share('s', async () => { events.push('store 1 begins'); await first.promise; events.push('store 1 ends'); });
    const deleting = gate.exclusive('s', async () => { events.push('delete'); await tick(); events.push('delete ends'); });
    await tick();
    const later = gate.share('s', () => Promise.resolve(void events.push('store 2')));
    await tick();
    expect(events).toEqual(['store 1 begins']);

    first.resolve();
    await Promise.all([storing, deleting, later]);
    expect(events).toEqual(['store 1 begins', 'store 1 ends', 'delete', 'delete ends', 'store 2']);
  });

  test('leaves other studies alone, and two deletions of one study run one after the other', async () => {
    const gate = new StudyGate();
    const events: string[] = [];
    const held = deferred();
    const a = gate.exclusive('s', async () => { events.push('delete 1'); await held.promise; events.push('delete 1 ends'); });
    const b = gate.exclusive('s', () => Promise.resolve(void events.push('delete 2')));
    await gate.share('t', () => Promise.resolve(void events.push('store of another study')));
    expect(events).toEqual(['delete 1', 'store of another study']);
    held.resolve();
    await Promise.all([a, b]);
    expect(events).toEqual(['delete 1', 'store of another study', 'delete 1 ends', 'delete 2']);
  });

  test('a failing store or deletion does not leave the study closed', async () => {
    const gate = new StudyGate();
    await expect(gate.share('s', () => Promise.reject(new Error('store failed')))).rejects.toThrow('store failed');
    await expect(gate.exclusive('s', () => Promise.reject(new Error('delete failed')))).rejects.toThrow('delete failed');
    await expect(gate.share('s', () => Promise.resolve('stored'))).resolves.toBe('stored');
  });
});
