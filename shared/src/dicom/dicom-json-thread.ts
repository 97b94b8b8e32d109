import { isMainThread, parentPort } from 'node:worker_threads';
import { readDicomJson } from './dicom-json';
import { serializeDicomJsonError, type DicomJsonReply, type DicomJsonRequest } from './dicom-json-thread-protocol';

/** Reads one file; every outcome, a failure included, is a reply (a throw here would end the thread). */
export function dicomJsonReplyTo(request: DicomJsonRequest): DicomJsonReply {
  try {
    // Stringified here too: for a large data set that is as much work again as the parse.
    return { kind: 'read', json: JSON.stringify(readDicomJson(request.bytes, request.bitsAllocated, request.encapsulated)) };
  } catch (err) {
    return { kind: 'failed', error: serializeDicomJsonError(err) };
  }
}

/**
 * The body of a metadata thread (see DicomJsonPool): answers each request with the file's DICOM JSON text, or
 * with the error readDicomJson threw, one at a time, until the pool ends the thread. `reply` is for tests.
 */
export function serveDicomJsonThread(reply: (request: DicomJsonRequest) => DicomJsonReply = dicomJsonReplyTo): void {
  const port = parentPort;
  if (isMainThread || !port) throw new Error('serveDicomJsonThread runs inside a worker thread');
  port.on('message', (request: DicomJsonRequest) => port.postMessage(reply(request)));
  // Its modules are loaded (compiled, under tsx): a file's time limit runs from here.
  port.postMessage({ kind: 'ready' } satisfies DicomJsonReply);
}
