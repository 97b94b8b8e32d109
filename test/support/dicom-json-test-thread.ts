import { dicomJsonReplyTo, serveDicomJsonThread as serveForReal } from '../../shared/src/dicom/dicom-json-thread';
import type { DicomJsonReply, DicomJsonRequest } from '../../shared/src/dicom/dicom-json-thread-protocol';

/** Bits Allocated values that make this metadata thread misbehave, for DicomJsonPool's tests. */
export const THREAD_DIES = -1;
export const THREAD_HANGS = -2;

/** A metadata thread (serveDicomJsonThread) that ends itself or never answers when asked to, and reads files otherwise. */
export function serveDicomJsonThread(): void {
  serveForReal((request: DicomJsonRequest): DicomJsonReply => {
    if (request.bitsAllocated === THREAD_DIES) process.exit(7); // in a worker thread: ends the thread only
    if (request.bitsAllocated === THREAD_HANGS) for (;;) { /* as a parse that never ends */ }
    return dicomJsonReplyTo(request);
  });
}
