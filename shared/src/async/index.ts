export { withTimeout } from './with-timeout';
export { DAY_MS, runDaily } from './daily';
