// A model saved by cifar-nets loads with tf.loadLayersModel in a real browser, headless Chromium,
// once the page has imported cifar-nets/models, and predicts the same numbers as in Node: the
// custom layers' configs and BnLayer's running statistics survive the trip.
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import type * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { build } from 'esbuild';
import { selectBackend } from '../../src/backend/selectBackend';
import { saveLearnerState } from '../../src/learner/modelIO';
import { createModel } from '../../src/models';
import { assertClose } from '../helpers/assertClose';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopbackServer';

/** How long the page may take to load the bundle and the model and to report. */
const RESULT_TIMEOUT_MS = 60_000;

// Headless as root needs --no-sandbox. The rest keep Chromium off the network (this machine
// reaches only package registries, and refused connections fill stderr) and off the GPU.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * The page's script, bundled with TensorFlow.js and the models by esbuild. Plain JavaScript in a
 * string: tsconfig compiles test/ for Node without DOM types, and node --test would run any
 * compiled .js file it finds under dist/test/ as a test. `__MODELS__` is replaced by the path of
 * cifar-nets/models, whose import registers BnLayer, GlobalMaxPool and LogSoftmax.
 */
const ENTRY = `
import * as tf from '@tensorflow/tfjs';
import __MODELS__;

async function run() {
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel('/model/model.json');
  const input = await (await fetch('/input.json')).json();
  const y = model.predict(tf.tensor(input.values, input.shape, 'float32'));
  return { backend: tf.getBackend(), shape: y.shape, values: Array.from(await y.data()) };
}

run().then(globalThis.report, (err) => globalThis.report({ error: String(err?.stack ?? err) }));
`;

// report() comes before the bundle so that an error thrown while the bundle itself runs (say, a
// Node-only module pulled into it) is posted as well, instead of leaving the test to time out.
const INDEX_HTML = `<!doctype html>
<meta charset="utf-8">
<title>cifar-nets in the browser</title>
<script>
  globalThis.report = (body) =>
    fetch('/result', { method: 'POST', body: JSON.stringify(body) });
  addEventListener('error', (e) => report({ error: 'uncaught: ' + e.message }));
</script>
<script src="/bundle.js"></script>
`;

/** What the page posts to /result. */
interface PageResult {
  backend?: string;
  shape?: number[];
  values?: number[];
  error?: string;
}

/** The chromium executable on PATH or in /usr/bin, or null when it is not installed. */
function findChromium(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin'];
  for (const dir of dirs) {
    const file = path.join(dir, 'chromium');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not in this folder; try the next.
    }
  }
  return null;
}

/** Is any process of the group `pgid` still alive? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills Chromium's process group (the browser, its zygotes, GPU process and renderers) and waits
 * until every one is gone, so that none writes into the profile while it is being removed.
 */
async function killChromium(child: ChildProcess): Promise<void> {
  const pgid = child.pid!;
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGKILL, not SIGTERM: nothing in the profile is worth a graceful shutdown.
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  await exited;
  for (let waitedMs = 0; groupAlive(pgid) && waitedMs < 5_000; waitedMs += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let root: string;

before(async () => {
  await selectBackend('cpu', { log: null });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cifar-nets-browser-'));
});

after(async () => {
  // Retries: Chromium's crash reporter, in a process group of its own, may still be closing
  // files under config/ for a moment after the browser is gone.
  await fs.rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

describe('a saved model in headless Chromium', () => {
  it('loads with tf.loadLayersModel and predicts as in Node', { timeout: 120_000 }, async (t) => {
    const chromium = findChromium();
    if (chromium === null) {
      t.skip('Chromium is not installed: apt-get install chromium');
      return;
    }

    const model = createModel('convbn', { seed: 1 });
    // A training-mode pass moves BnLayer's running statistics off their initial 0 and 1, so a
    // browser that lost them would predict other numbers.
    const trainBatch = tf.randomNormal([8, 32, 32, 3], 0, 1, 'float32', 2);
    tf.dispose([model.apply(trainBatch, { training: true }) as tf.Tensor, trainBatch]);
    const modelDir = path.join(root, 'model');
    await saveLearnerState(modelDir, { model, metadata: { model: 'convbn' } });

    const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 3); // [batch, h, w, channels]
    const yNode = model.predict(x) as tf.Tensor; // [batch, 10] log-probabilities
    const expected = { shape: yNode.shape, values: Array.from(await yNode.data()) };
    // Float32 values print as the shortest decimal that reads back as the same float32.
    const inputJson = JSON.stringify({ shape: x.shape, values: Array.from(await x.data()) });
    tf.dispose([x, yNode]);
    model.dispose();

    const bundleFile = path.join(root, 'bundle.js');
    // Through the package's own exports, as a web app importing cifar-nets/models would.
    const modelsFile = require.resolve('cifar-nets/models');
    await build({
      stdin: {
        contents: ENTRY.replace('__MODELS__', JSON.stringify(modelsFile)),
        resolveDir: path.dirname(modelsFile),
        sourcefile: 'entry.js',
        loader: 'js',
      },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      outfile: bundleFile,
      logLevel: 'silent',
    });

    let onResult!: (result: PageResult) => void;
    const posted = new Promise<PageResult>((resolve) => (onResult = resolve));
    const files: Record<string, { file: string; type: string }> = {
      '/bundle.js': { file: bundleFile, type: 'text/javascript' },
      '/model/model.json': { file: path.join(modelDir, 'model.json'), type: 'application/json' },
      '/model/weights.bin': {
        file: path.join(modelDir, 'weights.bin'),
        type: 'application/octet-stream',
      },
    };
    const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'POST' && url.pathname === '/result') {
        let body = '';
        for await (const chunk of req) body += chunk;
        res.writeHead(204).end();
        try {
          onResult(JSON.parse(body) as PageResult);
        } catch {
          onResult({ error: `the page posted a result that is not JSON: ${body.slice(0, 200)}` });
        }
      } else if (url.pathname === '/' || url.pathname === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(INDEX_HTML);
      } else if (url.pathname === '/input.json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(inputJson);
      } else if (url.pathname in files) {
        const { file, type } = files[url.pathname];
        res.writeHead(200, { 'content-type': type }).end(await fs.readFile(file));
      } else {
        res.writeHead(404).end();
      }
    };
    let server: LoopbackServer | undefined;
    let browser: ChildProcess | undefined;
    let timer: NodeJS.Timeout | undefined;
    let killOnExit: (() => void) | undefined;
    let result: PageResult;
    try {
      server = await startLoopbackServer((req, res) => {
        handler(req, res).catch((err) => {
          if (!res.headersSent) res.writeHead(500);
          res.end(String(err));
        });
      });

      // XDG folders inside root: Chromium's crash reporter and dconf write there, not in ~.
      const env = {
        ...process.env,
        XDG_CONFIG_HOME: path.join(root, 'config'),
        XDG_CACHE_HOME: path.join(root, 'cache'),
      };
      const profile = path.join(root, 'profile');
      browser = spawn(
        chromium,
        [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, `${server.base}/index.html`],
        // Its own process group, so that one kill reaches every process it forks.
        { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
      );
      // Should this test process end before the finally below runs, Chromium goes with it.
      const pgid = browser.pid;
      killOnExit = () => {
        if (pgid !== undefined && groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
      };
      process.once('exit', killOnExit);
      // Drained always, or a chatty Chromium blocks on a full pipe; the tail explains a failure.
      let stderr = '';
      browser.stderr!.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
      const exited = new Promise<never>((_, reject) => {
        browser!.once('error', reject);
        browser!.once('exit', (code, signal) =>
          reject(
            new Error(`Chromium exited (${signal ?? code}) before the page reported:\n${stderr}`),
          ),
        );
      });
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`The page posted nothing in ${RESULT_TIMEOUT_MS} ms; Chromium:\n${stderr}`),
            ),
          RESULT_TIMEOUT_MS,
        );
      });
      result = await Promise.race([posted, exited, timedOut]);
    } finally {
      clearTimeout(timer);
      if (browser?.pid !== undefined) await killChromium(browser);
      if (killOnExit) process.off('exit', killOnExit);
      await server?.close();
    }

    assert.equal(result.error, undefined, `the page failed: ${result.error}`);
    assert.equal(result.backend, 'cpu');
    assert.deepEqual(result.shape, expected.shape);
    assertClose(result.values!, expected.values, { rtol: 0, atol: 1e-5, what: 'predictions' });
  });
});
