import { connect } from 'node:net';
import { GATEWAY_CLOSE_GRACE_MS } from '@mipseg/gateway';
import { createLogger } from '@mipseg/shared/log';
import { CLOSE_TIMEOUT_MS as PIPELINE_CLOSE_TIMEOUT_MS } from '../../services/cli/src/close-within';
import { ARCHIVE_SETTLE_MS } from '../../services/cli/src/serve';
import { DEFAULT_CLOSE_TIMEOUT_MS as DIMSE_CLOSE_TIMEOUT_MS } from '../../services/dimse/src/dimse-server';
import { parseCompose, readRepoFile } from '../infra/deployment-files';
import { startTestArchive } from '../support/archive-server';

/** A Compose duration as stop_grace_period takes it: 1m30s, 45s, 500ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0);
}

describe('how long the gateway takes to stop', () => {
  test('docker-compose.yml waits longer before SIGKILL than mipseg serve can take after SIGTERM', () => {
    // serve closes the HTTP server and the DIMSE SCP at the same time, lets stores under way settle, closes the
    // pipeline, then job record pruning (each bounded by close-within's limit), lets the pipeline's last stores
    // settle, then closes the index.
    const worst = Math.max(GATEWAY_CLOSE_GRACE_MS, DIMSE_CLOSE_TIMEOUT_MS) + 2 * PIPELINE_CLOSE_TIMEOUT_MS + 2 * ARCHIVE_SETTLE_MS;
    const gateway = parseCompose(readRepoFile('docker-compose.yml')).services['gateway'] as { stop_grace_period?: string } | undefined;
    const grace = durationMs(gateway?.stop_grace_period ?? '10s'); // Compose's default
    expect(grace).toBeGreaterThan(worst);
  });
});

describe('a gateway stopping with a request still running', () => {
  test('closes its connection after the grace period and says so, naming how many were open', async () => {
    const lines: { level: number; msg: string; open?: number }[] = [];
    const server = await startTestArchive({}, createLogger('info', { write: (l: string) => lines.push(JSON.parse(l) as { level: number; msg: string }) }));
    try {
      const socket = connect(server.gateway.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const ended = new Promise((resolve) => socket.once('close', resolve));
      // An upload that has begun and then stalls: its request never ends by itself.
      socket.write('POST /dicomweb/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n'
        + 'Content-Type: multipart/related; type="application/dicom"; boundary=b\r\n\r\n--b\r\n');
      await new Promise((r) => setTimeout(r, 200));
      await server.gateway.close(300);
      await ended;
      expect(lines.filter((l) => l.level === 40 && l.msg.startsWith('HTTP requests still running'))).toEqual([expect.objectContaining({ open: 1 })]);
    } finally {
      await server.stop();
    }
  });
});
