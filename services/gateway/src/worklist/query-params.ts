import type { Request } from 'express';
import { MipsegError } from '@mipseg/shared/errors';

/**
 * A query parameter that takes one value: undefined when absent, 400 when repeated (`seg=a&seg=b`) or given as a
 * structure (`seg[]=a`), which Express parses into an array or object. Picking one value, or ignoring them all, would
 * answer a question other than the one asked.
 */
export function singleQueryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || typeof value === 'string') return value;
  throw new MipsegError('MIPSEG_BAD_QUERY', `${name} given more than once (it takes one value)`);
}

/**
 * A non-negative integer query parameter: `fallback` when absent, NaN (for the caller's range check to refuse) when
 * it is not decimal digits alone. Number() would also take `1e2`, `0x10`, ` 10` and an empty value (0). At most 16
 * digits, so that SQLite can bind it as an integer (`offset=1e20` could not be).
 */
export function integerQueryParam(req: Request, name: string, fallback: number): number {
  const raw = singleQueryParam(req, name);
  if (raw === undefined) return fallback;
  return /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
}
