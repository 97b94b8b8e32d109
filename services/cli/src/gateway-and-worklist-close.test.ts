import type { GatewayServer, Worklist } from '@mipseg/gateway';
import { closeGatewayAndWorklist } from '@mipseg/gateway';

/** A step of shutdown that ends when the test says, resolving or rejecting. */
function pending(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve = (): void => undefined;
  let reject = (_err: Error): void => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Stand-ins for the gateway and worklist that record, in `order`, when each closed. */
function standIns(order: string[], gatewayClose: Promise<void>, worklistClose: () => Promise<void> = () => Promise.resolve()) {
  const gateway = { port: 0, close: () => gatewayClose.then(() => void order.push('gateway')) } as unknown as GatewayServer;
  const worklist = {
    endEventStreams: () => void order.push('event streams'),
    close: () => worklistClose().then(() => void order.push('worklist')),
  } as unknown as Worklist;
  return { gateway, worklist };
}

describe('closing the gateway, the DIMSE listener beside it, and the worklist (serve\'s shutdown)', () => {
  test('a DIMSE close that fails waits for the HTTP requests still in their grace period, closes the worklist, then rejects', async () => {
    const order: string[] = [];
    const gatewayClose = pending();
    const { gateway, worklist } = standIns(order, gatewayClose.promise);
    const dimseFailure = new Error('DIMSE listener would not close');
    let settled = false;
    const closing = closeGatewayAndWorklist(gateway, worklist, [() => Promise.reject(dimseFailure)]);
    closing.then(() => (settled = true), () => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    gatewayClose.resolve();
    await expect(closing).rejects.toBe(dimseFailure);
    expect(order).toEqual(['event streams', 'gateway', 'worklist']);
  });

  test('a gateway close that fails still closes the worklist and rejects with the gateway\'s error', async () => {
    const order: string[] = [];
    const gatewayClose = pending();
    const { gateway, worklist } = standIns(order, gatewayClose.promise);
    const failure = new Error('server close failed');
    gatewayClose.reject(failure);
    await expect(closeGatewayAndWorklist(gateway, worklist, [() => Promise.resolve()])).rejects.toBe(failure);
    expect(order).toEqual(['event streams', 'worklist']);
  });

  test('a DIMSE close that throws before returning a promise still waits for the gateway and closes the worklist', async () => {
    const order: string[] = [];
    const { gateway, worklist } = standIns(order, Promise.resolve());
    const failure = new Error('DIMSE listener was never listening');
    const throwsAtOnce = (): Promise<void> => {
      throw failure;
    };
    await expect(closeGatewayAndWorklist(gateway, worklist, [throwsAtOnce])).rejects.toBe(failure);
    expect(order).toEqual(['event streams', 'gateway', 'worklist']);
  });

  test('several closes that fail: rejects with an AggregateError holding each, its message naming them all', async () => {
    const order: string[] = [];
    const gatewayFailure = new Error('server close failed');
    const { gateway, worklist } = standIns(order, Promise.reject(gatewayFailure), () => Promise.reject(new Error('model would not release')));
    const dimseFailure = new Error('DIMSE listener would not close');
    const closing = closeGatewayAndWorklist(gateway, worklist, [() => Promise.reject(dimseFailure)]);
    await expect(closing).rejects.toBeInstanceOf(AggregateError);
    const err = (await closing.catch((e: unknown) => e)) as AggregateError;
    expect(err.errors).toEqual([gatewayFailure, dimseFailure, expect.objectContaining({ message: 'model would not release' })]);
    for (const text of ['server close failed', 'DIMSE listener would not close', 'model would not release']) expect(err.message).toContain(text);
  });

  test('resolves once everything closed', async () => {
    const order: string[] = [];
    const { gateway, worklist } = standIns(order, Promise.resolve());
    await expect(closeGatewayAndWorklist(gateway, worklist, [() => Promise.resolve()])).resolves.toBeUndefined();
    expect(order).toEqual(['event streams', 'gateway', 'worklist']);
  });
});
