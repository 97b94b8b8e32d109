import { GATEWAY_CLOSE_GRACE_MS } from '@mipseg/gateway';
import { CLOSE_TIMEOUT_MS as PIPELINE_CLOSE_TIMEOUT_MS } from '../../services/cli/src/close-within';
import { DEFAULT_CLOSE_TIMEOUT_MS as DIMSE_CLOSE_TIMEOUT_MS } from '../../services/dimse/src/dimse-server';
import { parseCompose, readRepoFile } from '../infra/deployment-files';

/** A Compose duration as stop_grace_period takes it: 1m30s, 45s, 500ms. */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)];
  if (parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0);
}

describe('how long the gateway takes to stop', () => {
  test('docker-compose.yml waits longer before SIGKILL than mipseg serve can take after SIGTERM', () => {
    // serve closes the HTTP server and the DIMSE SCP at the same time, then the pipeline, then the index.
    const worst = Math.max(GATEWAY_CLOSE_GRACE_MS, DIMSE_CLOSE_TIMEOUT_MS) + PIPELINE_CLOSE_TIMEOUT_MS;
    const gateway = parseCompose(readRepoFile('docker-compose.yml')).services['gateway'] as { stop_grace_period?: string } | undefined;
    const grace = durationMs(gateway?.stop_grace_period ?? '10s'); // Compose's default
    expect(grace).toBeGreaterThan(worst);
  });
});
