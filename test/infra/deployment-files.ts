import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/** The repository root: the build context of every infra/*.Dockerfile and the compose project directory. */
export const ROOT = resolve(__dirname, '..', '..');

export function readRepoFile(relativePath: string): string {
  return readFileSync(join(ROOT, relativePath), 'utf8');
}

export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
}

/** A Dockerfile's instructions (continuation lines joined, comments dropped), split into its stages. */
export interface Dockerfile {
  readonly stages: ReadonlyArray<{ readonly name: string | undefined; readonly instructions: readonly DockerInstruction[] }>;
}

export function parseDockerfile(text: string): Dockerfile {
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Array<{ name: string | undefined; instructions: DockerInstruction[] }> = [];
  for (const line of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const keyword = (m[1] as string).toUpperCase();
    const args = m[2] as string;
    if (keyword === 'FROM') stages.push({ name: /\s+AS\s+(\S+)\s*$/i.exec(args)?.[1], instructions: [] });
    stages.at(-1)?.instructions.push({ keyword, args });
  }
  return { stages };
}

/** The instructions of the stage that becomes the image (the last one). */
export function finalStage(file: Dockerfile): readonly DockerInstruction[] {
  return file.stages.at(-1)?.instructions ?? [];
}

/** `ENV A=1 B=2` pairs of some instructions, later ones winning. */
export function envOf(instructions: readonly DockerInstruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of instructions.filter((i) => i.keyword === 'ENV')) {
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return env;
}

/** The exec form (`CMD ["node", …]`) of the last instruction with this keyword; shell form is refused. */
export function execForm(instructions: readonly DockerInstruction[], keyword: 'CMD' | 'HEALTHCHECK'): string[] {
  const last = instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!last) throw new Error(`no ${keyword}`);
  const json = keyword === 'HEALTHCHECK' ? /\bCMD\s+(\[.*\])\s*$/.exec(last.args)?.[1] : last.args;
  if (!json?.startsWith('[')) throw new Error(`${keyword} is not in exec form: ${last.args}`);
  return JSON.parse(json) as string[];
}

/** Source paths of `COPY` instructions that read the build context (not `--from` another stage). */
export function contextCopySources(file: Dockerfile): string[] {
  const all = file.stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'COPY' && !/--from=/.test(i.args));
  return all.flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
}

function globToRegExp(pattern: string): RegExp {
  let out = '';
  const p = pattern.replace(/^\/+|\/+$/g, '');
  for (let i = 0; i < p.length; i++) {
    if (p.startsWith('**/', i)) {
      out += '(?:.*/)?';
      i += 2;
    } else if (p.startsWith('**', i)) {
      out += '.*';
      i += 1;
    } else if (p[i] === '*') out += '[^/]*';
    else if (p[i] === '?') out += '[^/]';
    else out += (p[i] as string).replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * Whether .dockerignore keeps a path (relative to the context) out of the build context: a path is out
 * when it or a folder above it matches a pattern. Only the forms this repository uses (no `!` exceptions).
 */
export function dockerIgnored(dockerignore: string, relativePath: string): boolean {
  const patterns = dockerignore.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (patterns.some((p) => p.startsWith('!'))) throw new Error('.dockerignore exceptions (!) are not handled by this check');
  const regexps = patterns.map(globToRegExp);
  const parts = relativePath.split('/');
  return parts.some((_, i) => regexps.some((r) => r.test(parts.slice(0, i + 1).join('/'))));
}

export interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string };
  readonly command?: string[];
  readonly environment?: Record<string, string | number | boolean | null> | string[];
  readonly env_file?: string | string[];
  readonly healthcheck?: { readonly test?: string[] | string };
  readonly profiles?: string[];
  readonly ports?: string[];
  readonly volumes?: string[];
  readonly depends_on?: Record<string, { readonly condition: string }>;
  readonly deploy?: {
    readonly replicas?: number;
    readonly resources?: { readonly reservations?: { readonly devices?: ReadonlyArray<{ driver?: string; capabilities?: string[] }> } };
  };
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
}

export function parseCompose(text: string): ComposeFile {
  // `<<` merge keys are part of the compose format (Compose resolves them too); yaml needs them asked for.
  return parse(text, { merge: true }) as ComposeFile;
}

/** A service's `environment` as a map, whichever of the two compose forms it uses. */
export function composeEnvironment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => {
      const at = e.indexOf('=');
      return at < 0 ? [e, ''] : [e.slice(0, at), e.slice(at + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** `KEY=value` lines of an env file; commented-out `# KEY=value` lines are listed too (they document keys). */
export function envFileEntries(text: string): Array<{ key: string; value: string; commented: boolean }> {
  return [...text.matchAll(/^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({ key: m[2] as string, value: (m[3] as string).trim(), commented: m[1] !== undefined }));
}

/** The subcommands that services/cli/src/main.ts registers with commander (`.command('serve')`, …). */
export function cliCommands(): string[] {
  return [...readRepoFile('services/cli/src/main.ts').matchAll(/\.command\('([a-z][a-z-]*)/g)].map((m) => m[1] as string);
}
