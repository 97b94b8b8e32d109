/**
 * ACR-NEMA's forms of DA (yyyy.mm.dd) and TM (hh:mm:ss.frac), which PS3.5 6.2 retired but still asks readers to
 * accept "for reasons of backward compatibility", and which migrated archives and old scanners still send.
 */
const ACR_NEMA_DATE = /^(\d{4})\.(\d{2})\.(\d{2})$/;
const ACR_NEMA_TIME = /^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$/;

/** A DA in the PS3.5 form: yyyy.mm.dd without its dots; any other value (trimmed) as it came. */
export function fromAcrNemaDate(da: string): string {
  const v = da.trim();
  const legacy = ACR_NEMA_DATE.exec(v);
  return legacy ? `${legacy[1]}${legacy[2]}${legacy[3]}` : v;
}

/** A TM in the PS3.5 form: hh:mm:ss.frac without its colons; any other value (trimmed) as it came. */
export function fromAcrNemaTime(tm: string): string {
  const v = tm.trim();
  return ACR_NEMA_TIME.test(v) ? v.replaceAll(':', '') : v;
}
