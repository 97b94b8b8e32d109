/**
 * The server's clock as this page reads it: job times (startedAt) are the server's, and a workstation whose own clock
 * is a few minutes off showed a running analysis with no time at all (negative), then one minutes too short.
 * Every API answer's Date header (whole seconds) moves the estimate; differences under the header's own
 * resolution are taken as none. Behind a reverse proxy that writes its own Date it is the proxy's clock, and a
 * queue-mode job's start is its worker's: hosts kept to one time (NTP) make these the same.
 */
let offsetMs = 0;

/** Notes an answer's Date header, read when the answer arrived. */
export function noteServerDate(header: string | null): void {
  const date = header === null ? NaN : Date.parse(header);
  if (!Number.isFinite(date)) return;
  // The header is truncated to the second: the server's time was in [date, date + 1000).
  const offset = date + 500 - Date.now();
  offsetMs = Math.abs(offset) > 1500 ? offset : 0;
}

/** Now, by the server's clock. */
export function serverNow(): number {
  return Date.now() + offsetMs;
}
