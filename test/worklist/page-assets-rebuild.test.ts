import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { loadWebAssets } from '../../services/gateway/src/worklist/web-assets';
import { pageRouter } from '../../services/gateway/src/worklist/page-router';

/** A built page as `npm run build` leaves it: the template, a stylesheet, the compiled entry module and a module it imports. */
function writeBuild(webRoot: string, release: string): void {
  mkdirSync(join(webRoot, 'dist'), { recursive: true });
  mkdirSync(join(webRoot, 'public'), { recursive: true });
  writeFileSync(join(webRoot, 'public', 'index.html'), '<script type="module" src="%ASSETS%/main.js"></script>');
  writeFileSync(join(webRoot, 'public', 'styles.css'), `/* ${release} */`);
  writeFileSync(join(webRoot, 'dist', 'main.js'), `import './api.js'; // ${release}`);
  writeFileSync(join(webRoot, 'dist', 'api.js'), `export const release = '${release}';`);
}

describe('the page\'s assets while the service runs', () => {
  let webRoot: string;
  let server: Server;
  let root: string;

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'mipseg-web-'));
    writeBuild(webRoot, 'release 1');
    const app = express().use(pageRouter({ assets: loadWebAssets(webRoot), ohifDist: undefined }));
    server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(webRoot, { recursive: true, force: true });
  });

  test('are the ones it started with, after a rebuild in place, under the version that names them', async () => {
    const page = await (await fetch(`${root}/`)).text();
    const base = /src="(\/ui\/[0-9a-f]+)\/main\.js"/.exec(page)?.[1] ?? '';
    const read = async (name: string) => {
      const res = await fetch(`${root}${base}/${name}`);
      return { status: res.status, type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), body: await res.text() };
    };
    expect(await read('api.js')).toEqual({ status: 200, type: 'text/javascript; charset=utf-8',
      cache: 'public, max-age=31536000, immutable', body: "export const release = 'release 1';" });
    // `npm run build` under the running service: what it serves under this version, cached for a year, stays release 1.
    writeBuild(webRoot, 'release 2');
    unlinkSync(join(webRoot, 'public', 'styles.css'));
    expect((await read('api.js')).body).toBe("export const release = 'release 1';");
    expect((await read('main.js')).body).toBe("import './api.js'; // release 1");
    expect(await read('styles.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8', body: '/* release 1 */' });
    // The page names the same version until the service is restarted.
    expect(await (await fetch(`${root}/`)).text()).toBe(page);
    // Still not the template, nor a name outside the assets.
    for (const name of ['index.html', '%69ndex.html', 'x%2F..%2Fmain.js', '%E0%A4%A']) expect([name, (await read(name)).status]).toEqual([name, 404]);
  });
});
