import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { DEFAULTS, loadConfig, type Config } from '@mipseg/shared/config';
import { isMipsegError } from '@mipseg/shared/errors';
import { startTestArchive } from '../support/archive-server';
import { SERVICE_NODE_FLAGS } from '../support/mipseg-process';
import {
  ROOT, cliCommands, composeEnvironment, contextCopySources, dockerIgnored, envFileEntries, envOf, execForm, finalStage,
  parseCompose, parseDockerfile, readRepoFile, type ComposeService, type Dockerfile,
} from './deployment-files';

// No Docker engine runs these files in the tests: they check what would otherwise break only at `docker compose up`.

const compose = parseCompose(readRepoFile('docker-compose.yml'));
const pkg = JSON.parse(readRepoFile('package.json')) as {
  bin: Record<string, string>; workspaces: string[]; dependencies: Record<string, string>;
};
const dockerignore = readRepoFile('.dockerignore');
const envExample = envFileEntries(readRepoFile('infra/.env.example'));
const TEST_TOKEN = 'deployment-files-test-token-0123456789';

/** The services built from this repository, with the command each must run. */
const MIPSEG_SERVICES: Record<string, string> = { gateway: 'serve', 'worker-cpu': 'worker', 'worker-gpu': 'worker' };

function service(name: string): ComposeService {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

function dockerfileOf(name: string): Dockerfile {
  const build = service(name).build;
  if (!build) throw new Error(`${name} is not built from this repository`);
  return parseDockerfile(readRepoFile(join(build.context, build.dockerfile)));
}

function envFiles(s: ComposeService): string[] {
  return s.env_file === undefined ? [] : Array.isArray(s.env_file) ? s.env_file : [s.env_file];
}

/** The DIMSE_ALLOWED_AE_TITLES that infra/README.md's "Run it" writes into infra/.env for the demo. */
function demoAllowedAeTitles(): string {
  const set = /sed -i "s\/\^DIMSE_ALLOWED_AE_TITLES=\.\*\/DIMSE_ALLOWED_AE_TITLES=([^/]*)\/" infra\/\.env/.exec(readRepoFile('infra/README.md'));
  expect(set).not.toBeNull();
  return set?.[1] ?? '';
}

/**
 * What a container of the service sees: image ENV, then the env file (infra/.env as the example and "Run it" fill
 * it: `filled`), then `environment`.
 */
function containerEnv(name: string, filled: Record<string, string>): Record<string, string> {
  const s = service(name);
  const fromFile = envFiles(s).length ? { ...Object.fromEntries(envExample.filter((e) => !e.commented).map((e) => [e.key, e.value])), ...filled } : {};
  return { ...envOf(finalStage(dockerfileOf(name))), ...fromFile, ...composeEnvironment(s) };
}

/** The node flags of the `mipseg` bin's `#!/usr/bin/env -S node …` line: what every entry point must run with. */
function binNodeFlags(): string[] {
  const shebang = readRepoFile('services/cli/src/main.ts').split('\n')[0] ?? '';
  const words = shebang.replace(/^#!\/usr\/bin\/env (-S )?/, '').split(' ');
  expect(words[0]).toBe('node');
  return words.slice(1);
}

function configOf(name: string): Config {
  return loadConfig(containerEnv(name, { AUTH_TOKENS: TEST_TOKEN, DIMSE_ALLOWED_AE_TITLES: demoAllowedAeTitles() }));
}

describe('docker-compose.yml and infra/*.Dockerfile', () => {
  it('runs each mipseg service as a non-root user with one of the CLI commands, through the entry point npm start uses', () => {
    const commands = cliCommands();
    expect(commands).toEqual(expect.arrayContaining(['serve', 'worker']));
    const flags = binNodeFlags();
    expect(flags).toEqual(SERVICE_NODE_FLAGS);
    expect(readRepoFile('scripts/start.sh')).toContain(`node ${[...flags, pkg.bin['mipseg']].join(' ')} serve`);
    for (const [name, expected] of Object.entries(MIPSEG_SERVICES)) {
      const image = finalStage(dockerfileOf(name));
      const command = service(name).command ?? execForm(image, 'CMD');
      expect([name, command]).toEqual([name, ['node', ...flags, pkg.bin['mipseg'], expected]]);
      expect(commands).toContain(command.at(-1));
      const user = image.filter((i) => i.keyword === 'USER').at(-1)?.args;
      expect([name, user === undefined || user === 'root' || user === '0']).toEqual([name, false]);
    }
  });

  it('sets no environment variable that mipseg does not read', () => {
    const known = new Set(Object.keys(DEFAULTS));
    const set = Object.keys(MIPSEG_SERVICES).flatMap((name) => [
      ...Object.keys(composeEnvironment(service(name))).map((k) => `${name} (compose): ${k}`),
      ...Object.keys(envOf(finalStage(dockerfileOf(name)))).filter((k) => k !== 'NODE_ENV').map((k) => `${name} (image): ${k}`),
    ]).concat(envExample.map((e) => `infra/.env.example: ${e.key}`));
    expect(set.filter((entry) => !known.has(entry.split(': ')[1] as string))).toEqual([]);
    for (const name of Object.keys(MIPSEG_SERVICES)) expect([name, envFiles(service(name))]).toEqual([name, ['infra/.env']]);
  });

  it('refuses to start the gateway from the example env file until AUTH_TOKENS and DIMSE_ALLOWED_AE_TITLES are filled in', () => {
    expect(envExample.find((e) => e.key === 'AUTH_TOKENS')).toMatchObject({ value: '', commented: false });
    // Empty, not the demo's tools' default titles, which anyone on the network could send with.
    expect(envExample.find((e) => e.key === 'DIMSE_ALLOWED_AE_TITLES')).toMatchObject({ value: '', commented: false });
    const refusal = (filled: Record<string, string>): unknown => {
      try {
        loadConfig(containerEnv('gateway', filled));
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(isMipsegError(refusal({}), 'MIPSEG_INSECURE_BIND')).toBe(true);
    expect(isMipsegError(refusal({ AUTH_TOKENS: TEST_TOKEN }), 'MIPSEG_INSECURE_DIMSE_BIND')).toBe(true);
    expect(refusal({ AUTH_TOKENS: TEST_TOKEN, DIMSE_ALLOWED_AE_TITLES: demoAllowedAeTitles() })).toBeUndefined();
  });

  it('wires the gateway, the workers, Redis and Orthanc to each other', () => {
    const gateway = configOf('gateway');
    expect(gateway).toMatchObject({ host: '0.0.0.0', dataDir: '/data' });
    expect(gateway.pipeline.redisUrl).toMatch(/^redis:\/\/redis:\d+$/);
    expect(service('gateway').volumes).toEqual(expect.arrayContaining([expect.stringMatching(/:\/data$/)]));
    const published = (service('gateway').ports ?? []).map((p) => Number(p.split(':').at(-1)));
    expect(published.sort()).toEqual([gateway.port, gateway.dimse.port].sort());
    const exposed = finalStage(dockerfileOf('gateway')).filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number);
    expect(exposed.sort()).toEqual([gateway.port, gateway.dimse.port].sort());

    const destinations = gateway.pipeline.exportDestinations;
    expect(destinations.some((d) => d.startsWith('stow:http://orthanc:8042/'))).toBe(true);
    expect(destinations.some((d) => /^dimse:[^@]+@orthanc:4242$/.test(d))).toBe(true);
    expect(composeEnvironment(service('orthanc'))).toMatchObject({ DICOM_WEB_PLUGIN_ENABLED: 'true', ORTHANC__AUTHENTICATION_ENABLED: 'false' });
    const modalities = JSON.parse(composeEnvironment(service('orthanc'))['ORTHANC__DICOM_MODALITIES'] ?? '{}') as Record<string, [string, string, number]>;
    expect(Object.values(modalities)).toContainEqual([gateway.dimse.aeTitle, 'gateway', gateway.dimse.port]);

    for (const name of ['worker-cpu', 'worker-gpu']) {
      const worker = configOf(name);
      expect([name, worker.pipeline.redisUrl, worker.pipeline.gatewayUrl, worker.pipeline.exportDestinations])
        .toEqual([name, gateway.pipeline.redisUrl, `http://gateway:${gateway.port}/dicomweb`, destinations]);
      expect(service(name).depends_on?.['gateway']?.condition).toBe('service_healthy');
    }
    expect(configOf('worker-cpu').inference.executionProvider).toBe('cpu');
    expect(configOf('worker-gpu').inference.executionProvider).toBe('cuda');
  });

  it('asks for an NVIDIA GPU and onnxruntime-node\'s CUDA libraries only in the gpu profile', () => {
    expect(service('worker-gpu').profiles).toEqual(['gpu']);
    expect(service('worker-gpu').deploy?.resources?.reservations?.devices).toEqual([expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] })]);
    expect(service('worker-cpu').profiles).toBeUndefined();
    const installFlag = (name: string) => envOf(dockerfileOf(name).stages.flatMap((s) => s.instructions))['ONNXRUNTIME_NODE_INSTALL'];
    expect([installFlag('gateway'), installFlag('worker-cpu')]).toEqual(['skip', 'skip']);
    // The value the GPU image gives must be one onnxruntime-node's install script knows for linux/x64.
    const script = "console.log(JSON.stringify(require('onnxruntime-node/script/install-metadata.js').requirements['linux/x64']))";
    const known = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
    expect(known).toContain(installFlag('worker-gpu'));
  });

  it('builds from files that exist and that .dockerignore lets into the context', () => {
    const workspaceManifests = pkg.workspaces.flatMap((w) => {
      if (!w.endsWith('/*')) return [`${w}/package.json`];
      const dir = w.slice(0, -2);
      return readdirSync(join(ROOT, dir)).map((d) => `${dir}/${d}/package.json`).filter((p) => existsSync(join(ROOT, p)));
    });
    const model = ['model.onnx', 'model.json', 'model.schema.json'].map((f) => `models/mip-attention-unet/${f}`);
    const needed = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.base.json', 'types', ...workspaceManifests, ...model];
    for (const name of Object.keys(MIPSEG_SERVICES)) {
      const text = readRepoFile(service(name).build?.dockerfile ?? '');
      // The manifests stage copies each workspace's package.json by the workspaces' globs.
      for (const w of pkg.workspaces) expect([name, text.includes(`${w}/package.json`)]).toEqual([name, true]);
      needed.push(...contextCopySources(dockerfileOf(name)).filter((s) => s !== '.'));
    }
    expect([...new Set(needed)].filter((p) => !existsSync(join(ROOT, p)) || dockerIgnored(dockerignore, p))).toEqual([]);
    const keptOut = ['node_modules', 'services/cli/dist', 'data', '.test-artifacts', '.git', 'models/mip-attention-unet/training/runs', 'infra/.env'];
    expect(keptOut.filter((p) => !dockerIgnored(dockerignore, p))).toEqual([]);
  });

  it('has runtime code that imports only production dependencies (the images run npm prune --omit=dev)', () => {
    const sources = ['shared/src', ...readdirSync(join(ROOT, 'services')).map((s) => `services/${s}/src`)].filter((d) => existsSync(join(ROOT, d)));
    const files = sources.flatMap((d) => readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' }).map((f) => `${d}/${f}`))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
    const importRe = /^\s*(?:import\s+(?!type\s)(?:[^;]*?\sfrom\s+)?|export\s+(?!type\s)[^;]*?\sfrom\s+)'([^']+)'|\brequire\('([^']+)'\)/gm;
    const builtins = new Set(builtinModules);
    const missing = files.flatMap((f) => [...readRepoFile(f).matchAll(importRe)].map((m) => ({ f, spec: (m[1] ?? m[2]) as string })))
      .filter(({ spec }) => !spec.startsWith('.') && !spec.startsWith('node:') && !spec.startsWith('@mipseg/') && !builtins.has(spec))
      .map(({ f, spec }) => ({ f, name: spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string) }))
      .filter(({ name }) => !(name in pkg.dependencies))
      .map(({ f, name }) => `${f}: ${name}`);
    expect(missing).toEqual([]);
  });

  it('health-checks the gateway on a path that answers 200 without a token', async () => {
    // Compose's healthcheck, where the service sets one, replaces the image's.
    const override = service('gateway').healthcheck?.test;
    const check = override ? [override].flat().join(' ') : execForm(finalStage(dockerfileOf('gateway')), 'HEALTHCHECK').join(' ');
    expect(check).toMatch(/process\.env\.PORT|:8080\//);
    const path = /(\/[A-Za-z][\w/-]*)(?=['"\s]|$)/.exec(check)?.[1];
    expect(path).toBe('/healthz');
    const server = await startTestArchive({ AUTH_TOKENS: TEST_TOKEN });
    try {
      const res = await fetch(`http://127.0.0.1:${server.gateway.port}${path}`);
      expect(res.status).toBe(200);
      expect((await fetch(server.baseUrl + '/studies')).status).toBe(401);
    } finally {
      await server.stop();
    }
  });
});
