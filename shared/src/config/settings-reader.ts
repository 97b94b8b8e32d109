import { isMipsegError, MipsegError } from '../errors';
import type { ConfigKey } from './config';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the settings one by one and keeps every refusal, so that an administrator learns of all the invalid values at
 * once, not one a restart. Where a setting is refused, its default is read in its place, so that the rest (some of
 * which read it) are still checked; the defaults are all valid.
 */
export class SettingsReader {
  private readonly refusals: MipsegError[] = [];
  private readonly refusedKeys = new Set<ConfigKey>();

  constructor(private readonly env: Env) {}

  /** `readSetting` on the environment; `keys` are the settings it reads, set back to their defaults if it refuses them. */
  read<T>(keys: ConfigKey | readonly ConfigKey[], readSetting: (env: Env) => T): T {
    try {
      return readSetting(this.env);
    } catch (err) {
      if (!isMipsegError(err) || err.code !== 'MIPSEG_CONFIG_INVALID') throw err;
      this.refusals.push(err);
      const refusedKeys = typeof keys === 'string' ? [keys] : keys;
      refusedKeys.forEach((key) => this.refusedKeys.add(key));
      const defaults = Object.fromEntries(refusedKeys.map((key) => [key, '']));
      return readSetting({ ...this.env, ...defaults });
    }
  }

  /**
   * Whether `key` was refused (and its default read in its place): a setting checked against it is then checked
   * against that default, and would be refused for the other's mistake.
   */
  refused(key: ConfigKey): boolean {
    return this.refusedKeys.has(key);
  }

  /** One MIPSEG_CONFIG_INVALID for all the refusals, one line each (a lone one as it was thrown), if there were any. */
  throwIfRefused(): void {
    const [first] = this.refusals;
    if (first === undefined) return;
    if (this.refusals.length === 1) throw first;
    throw new MipsegError('MIPSEG_CONFIG_INVALID', [`${this.refusals.length} settings`, ...this.refusals.map((e) => e.detail)].join('\n'));
  }
}
