import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { downloadFile } from '../../src/data/download';
import { DataError } from '../../src/data/errors';
import { listFiles, makeTempDir, removeTempDir } from '../helpers/dataFixtures';
import { startLoopbackServer, type LoopbackServer } from '../helpers/loopbackServer';

/** What the test server sends for each path. */
const BODY = Buffer.alloc(300_000);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 31) & 0xff;
BODY[0] = 0x1f;
BODY[1] = 0x8b;

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, headers: http.OutgoingHttpHeaders, body: Buffer | string) => {
    res.writeHead(status, headers);
    res.end(body);
  };
  switch (req.url) {
    case '/cifar.tgz':
      return send(200, { 'content-type': 'application/gzip', 'content-length': BODY.length }, BODY);
    case '/moved':
      return send(302, { location: 'files/../cifar.tgz' }, '');
    case '/loop':
      return send(302, { location: '/loop' }, '');
    case '/page':
      return send(200, { 'content-type': 'text/html; charset=utf-8' }, '<html>Sign in</html>');
    case '/cut':
    case '/cut-chunked': {
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/gzip' };
      if (req.url === '/cut') headers['content-length'] = BODY.length;
      res.writeHead(200, headers);
      res.write(BODY.subarray(0, BODY.length / 2), () => {
        // Drop the connection halfway, as a flaky network does.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    case '/silent':
      return; // never answers
    default:
      return send(404, { 'content-type': 'text/plain' }, 'not found');
  }
}

describe('downloadFile', () => {
  let dir: string;
  let server: LoopbackServer;
  let base: string;
  before(async () => {
    dir = makeTempDir();
    server = await startLoopbackServer(handle);
    base = server.base;
  });
  after(async () => {
    await server.close();
    removeTempDir(dir);
  });

  /** Expects a DataError about `url` matching `patterns`, and an empty download folder after. */
  async function fails(url: string, patterns: RegExp[], options = {}): Promise<void> {
    const dest = path.join(dir, 'fail.tgz');
    await assert.rejects(downloadFile(url, dest, options), (error: unknown) => {
      assert.ok(error instanceof DataError, `expected a DataError, got ${String(error)}`);
      assert.ok(error.message.includes(url) || error.source.startsWith(url), error.message);
      for (const p of patterns) assert.match(error.message, p);
      return true;
    });
    assert.deepEqual(
      listFiles(dir).filter((f) => f.startsWith('fail')),
      [],
      'no partial file',
    );
  }

  it('streams a file into place and reports progress in bytes', async () => {
    const dest = path.join(dir, 'ok.tgz');
    const events: { done: number; total?: number }[] = [];
    await downloadFile(`${base}/cifar.tgz`, dest, { onProgress: (e) => events.push(e) });
    assert.deepEqual(readFileSync(dest), BODY);
    assert.deepEqual(events.at(-1), {
      phase: 'download',
      unit: 'bytes',
      done: BODY.length,
      total: BODY.length,
    });
    assert.deepEqual(listFiles(dir), ['ok.tgz']);
  });

  it('follows a relative redirect', async () => {
    const dest = path.join(dir, 'redirected.tgz');
    await downloadFile(`${base}/moved`, dest);
    assert.deepEqual(readFileSync(dest), BODY);
  });

  it('gives up on a redirect loop', async () => {
    await fails(`${base}/loop`, [/within 5 redirects/, /--data/]);
  });

  it('says what status a 404 came with and how to use a local copy', async () => {
    await fails(`${base}/missing.tgz`, [
      /to answer 200 OK, but it answered 404 Not Found/,
      /--data/,
    ]);
  });

  it('refuses an HTML page', async () => {
    await fails(`${base}/page`, [/sent an HTML page \(text\/html/]);
  });

  it('refuses a download cut halfway, with or without Content-Length', async () => {
    await fails(`${base}/cut`, [/connection closed after \d+ of 300000 bytes/, /Run again/]);
    await fails(`${base}/cut-chunked`, [/connection closed after \d+ bytes/]);
  });

  it('times out on a server that does not answer', async () => {
    await fails(`${base}/silent`, [/did not answer in time/, /--data/], { timeoutMs: 200 });
  });

  it('says the host is unreachable when nothing listens, and how to work offline', async () => {
    const closed = await startLoopbackServer(() => {});
    await closed.close();
    await fails(`${closed.base}/cifar.tgz`, [
      /could not be reached: you may be offline/,
      /pass its path with --data \/path\/to\/cifar\.tgz/,
    ]);
  });

  it('keeps nothing when the check refuses the file', async () => {
    const check = async (_file: string, url: string) => {
      throw new DataError(`Expected ${url} to be checked`, url);
    };
    await fails(`${base}/cifar.tgz`, [/to be checked/], { check });
  });

  it('refuses a URL that is not http(s)', async () => {
    await assert.rejects(downloadFile('ftp://example.com/x.tgz', path.join(dir, 'x')), DataError);
  });
});
