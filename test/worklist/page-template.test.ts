import { startWorklistServer, type WorklistServer } from './worklist-server';

/** The page's asset base, /ui/{version}, as the page itself names it. */
async function assetBase(server: WorklistServer): Promise<string> {
  const page = await (await fetch(`${server.root}/`)).text();
  const base = /src="(\/ui\/[0-9a-f]+)\/main\.js"/.exec(page)?.[1];
  if (!base) throw new Error('the page names no /ui/{version}/main.js');
  return base;
}

describe('the worklist page\'s template among its assets', () => {
  let server: WorklistServer;
  beforeAll(async () => {
    server = await startWorklistServer();
  });
  afterAll(() => server.stop());

  test('is not served under /ui/{version}/, however its name is spelled, while the assets beside it are', async () => {
    const base = await assetBase(server);
    // Served there it came unfilled (%ASSETS%) and without the page's Content-Security-Policy and frame-ancestors.
    for (const name of ['index.html', '%69ndex.html', 'x%2F..%2Findex.html']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await fetch(`${server.root}${base}/${name}`, { method });
        expect([method, name, res.status]).toEqual([method, name, 404]);
      }
    }
    const styles = await fetch(`${server.root}${base}/styles.css`);
    expect(styles.status).toBe(200);
  });
});
