/**
 * What one request for a large encapsulated instance's Pixel Data bulk data costs the gateway: bytes asked of the
 * blob store (whole reads and ranged reads), the largest of them (what is held at once of the file), and the process's peak Buffer memory (arrayBuffers, sampled every 2 ms and
 * at each chunk received) above its level before the request.
 * Run: npx tsx test/bench/encapsulated-bulkdata-bench.ts [frames]  (needs dcmcjpls).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticPetInstance } from '../pipeline/volume/synthetic-pet-instance';
import { startTestArchive } from '../support/archive-server';
import { postStow } from '../support/stow';

const SIDE = 256;

async function main(): Promise<void> {
  const frames = Number(process.argv[2] ?? 160);
  const dir = mkdtempSync(join(tmpdir(), 'mipseg-bulk-bench-'));
  const server = await startTestArchive();
  try {
    // Noise does not compress: the JPEG-LS file stays about as large as its native samples.
    const noise = Array.from({ length: SIDE * SIDE * frames }, (_, i) => ((i * 2654435761) >>> 7) & 0x7fff);
    writeFileSync(join(dir, 'native.dcm'), syntheticPetInstance({ sopInstanceUid: '2.25.7771.1.1', seriesInstanceUid: '2.25.7771.1',
      imagePositionPatient: [0, 0, 0], rows: SIDE, columns: SIDE, numberOfFrames: frames, stored: noise, attributes: { StudyInstanceUID: '2.25.7771' } }));
    if (spawnSync('dcmcjpls', ['+el', join(dir, 'native.dcm'), join(dir, 'jls.dcm')]).status !== 0) throw new Error('dcmcjpls failed');
    const file = readFileSync(join(dir, 'jls.dcm'));
    if ((await postStow(`${server.baseUrl}/studies`, [file])).status !== 200) throw new Error('STOW failed');
    const blobs = server.archive.blobs;
    let asked = 0;
    let largest = 0;
    const count = (b: Buffer): Buffer => { asked += b.length; largest = Math.max(largest, b.length); return b; };
    const whole = blobs.read.bind(blobs);
    blobs.read = async (key: string) => count(await whole(key));
    const ranged = blobs.openRanged.bind(blobs);
    blobs.openRanged = async (key: string) => {
      const f = await ranged(key);
      return { size: f.size, close: () => f.close(), read: async (at: number, n: number) => count(await f.read(at, n)) };
    };
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().arrayBuffers); }, 2);
    const res = await fetch(`${server.baseUrl}/studies/2.25.7771/series/2.25.7771.1/instances/2.25.7771.1.1/bulkdata/7FE00010`,
      { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    let received = 0;
    const reader = res.body?.getReader();
    for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read()) {
      received += chunk.value.length;
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    clearInterval(sampler);
    const mib = (n: number) => (n / 1048576).toFixed(1);
    console.log('| file MiB | frames | status | response MiB | bytes asked of the blob store MiB | largest single read MiB | peak Buffer memory (arrayBuffers) above start MiB |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    console.log(`| ${mib(file.length)} | ${frames} | ${res.status} | ${mib(received)} | ${mib(asked)} | ${mib(largest)} | ${mib(peak - before)} |`);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
