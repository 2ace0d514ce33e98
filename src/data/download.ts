/**
 * Downloads a file over http(s) into a temporary file, checks it, then renames it into place,
 * so the destination either holds a whole, checked file or does not exist.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { ProgressEvent } from './ProgressEvent';
import { DataError } from './errors';

/** Options of downloadFile. */
export interface DownloadOptions {
  /** Give up when the server sends nothing for this long, in ms. Default 30,000. */
  timeoutMs?: number;
  /** Redirects followed before giving up. Default 5. */
  maxRedirects?: number;
  /** Called as bytes arrive. */
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Checks the downloaded temporary file before it is renamed into place; throw to refuse it.
   * Errors should name `url`, which the second argument carries.
   */
  check?: (file: string, url: string) => Promise<void>;
}

/** What a user can do when the network fails them, said once for every such error. */
export const OFFLINE_HINT =
  'Download cifar.tgz another way and pass its path with --data /path/to/cifar.tgz (or an ' +
  'extracted folder).';

/**
 * Downloads `url` to `dest`, following redirects, with an idle timeout. Nothing is left behind
 * on failure: the partial temporary file is removed and `dest` is untouched.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<void> {
  const temp = `${dest}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
  try {
    await fetchToFile(url, temp, options);
    await options.check?.(temp, url);
    await rename(temp, dest);
  } catch (error) {
    // Cleaning up must not hide the error that made it necessary.
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
}

async function fetchToFile(url: string, file: string, options: DownloadOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRedirects = options.maxRedirects ?? 5;
  let current = url;
  for (let redirects = 0; ; redirects++) {
    const response = await request(current, url, timeoutMs);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      response.resume();
      if (redirects >= maxRedirects) {
        throw new DataError(
          `Expected ${url} to lead to a file within ${maxRedirects} redirects, but it kept ` +
            `redirecting (last to ${location}). Check the URL. ${OFFLINE_HINT}`,
          url,
        );
      }
      current = new URL(location, current).toString();
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new DataError(
        `Expected ${current} to answer 200 OK, but it answered ${status} ` +
          `${response.statusMessage ?? ''}. Check the URL. ${OFFLINE_HINT}`.replace('  ', ' '),
        current,
      );
    }
    const type = String(response.headers['content-type'] ?? '');
    if (/text\/html/i.test(type)) {
      response.resume();
      throw new DataError(
        `Expected ${current} to send a .tgz archive, but it sent an HTML page (${type}): ` +
          `probably a login, error or landing page. Check the URL. ${OFFLINE_HINT}`,
        current,
      );
    }
    await receive(response, current, file, timeoutMs, options.onProgress);
    return;
  }
}

/** Sends a GET and resolves with the response headers, or rejects with a DataError. */
function request(url: string, original: string, timeoutMs: number): Promise<http.IncomingMessage> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(
      new DataError(`Expected a valid http(s) URL, but got '${url}'.`, original),
    );
  }
  const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
  if (client === null) {
    return Promise.reject(
      new DataError(
        `Expected an http or https URL, but got '${url}'. Pass a URL, a .tgz path or a folder.`,
        original,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const req = client.get(parsed, { headers: { 'user-agent': 'cifar-nets' } }, resolve);
    req.setTimeout(timeoutMs, () => {
      req.destroy(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (error) => reject(networkError(url, error)));
  });
}

/** Streams the body to `file`, reporting progress and checking the length against the header. */
async function receive(
  response: http.IncomingMessage,
  url: string,
  file: string,
  timeoutMs: number,
  onProgress: ((event: ProgressEvent) => void) | undefined,
): Promise<void> {
  const header = response.headers['content-length'];
  const total = header === undefined ? undefined : Number(header);
  let done = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      onProgress?.({ phase: 'download', unit: 'bytes', done, total });
      callback(null, chunk);
    },
  });
  // The request's timeout covers the headers; this one covers a body that stalls.
  response.setTimeout(timeoutMs, () => {
    response.destroy(
      Object.assign(new Error(`no data for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }),
    );
  });
  const out = createWriteStream(file);
  try {
    await pipeline(response, counter, out);
  } catch (error) {
    // Wait for the file to be closed, so that the caller's cleanup comes after it.
    if (!out.closed) await once(out, 'close').catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined && /^E(NOSPC|ACCES|PERM|ROFS|NOENT|NOTDIR)$/.test(code)) {
      throw new DataError(
        `Expected to write the download to ${file}, but got ${(error as Error).message}. ` +
          'Choose another cache folder with --cache-dir or CIFAR_NETS_CACHE.',
        file,
        { cause: error },
      );
    }
    throw cutError(url, done, total, error);
  }
  if (total !== undefined && Number.isFinite(total) && done !== total) {
    throw cutError(url, done, total);
  }
}

function cutError(
  url: string,
  done: number,
  total: number | undefined,
  cause?: unknown,
): DataError {
  const of = total === undefined ? '' : ` of ${total}`;
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  return new DataError(
    `Expected the whole of ${url}, but the connection closed after ${done}${of} bytes${why}. ` +
      `Run again to retry the download. ${OFFLINE_HINT}`,
    url,
    { cause },
  );
}

function networkError(url: string, error: Error): DataError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const offline = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH'];
  const what = offline.includes(code)
    ? 'it could not be reached: you may be offline, or the host is down'
    : code === 'ETIMEDOUT'
      ? 'it did not answer in time'
      : 'the request failed';
  return new DataError(
    `Expected to download ${url}, but ${what} (${error.message}). ${OFFLINE_HINT}`,
    url,
    { cause: error },
  );
}
