/**
 * Runs the mipseg gateway and archive (as `startTestArchive` builds them) in a process of its own, so that
 * the benchmark's client does not share an event loop with the server: Orthanc is its own process too.
 * Prints `{"baseUrl": ...}` on one line when ready; stops on SIGTERM/SIGINT or when stdin closes (its parent
 * died), exiting normally so that `--cpu-prof` writes its profile.
 */
import { startTestArchive, type TestArchiveServer } from '../support/archive-server';

let server: TestArchiveServer | undefined;
let stopping = false;

async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server?.stop();
  process.exit(0);
}

async function main(): Promise<void> {
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
  process.stdin.on('end', () => void shutdown());
  process.stdin.resume();
  server = await startTestArchive();
  process.stdout.write(`${JSON.stringify({ baseUrl: server.baseUrl, dataDir: server.dataDir })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
