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
