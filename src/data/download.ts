/**
 * Downloads for datasets that are not on disk: resumable (HTTP Range on a `.part` file), with
 * progress callbacks and sha256 verification. A file whose checksum does not match is deleted and
 * the error names it: nothing unverified ever takes the final name. Downloads are confined: https
 * only (plain http only to this machine, for tests), redirects only to the hosts allowed (the
 * manifest's own, plus GALMORPH_DOWNLOAD_HOSTS), never from https to http; a body is cut off at the
 * expected size; and a file whose checksum is unknown is accepted only when no redirect took it to
 * another host (so a redirect cannot become the pinned truth).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { sha256File } from './hash';

export interface DownloadOptions {
  /** Expected hex sha256; null or absent when unknown (the result's sha256 can then be pinned). */
  sha256?: string | null;
  /** Expected size in bytes, when known. */
  size?: number | null;
  /** Called as bytes arrive: bytes on disk so far (resumed bytes included) and the total if known. */
  onProgress?: (done: number, total: number | undefined) => void;
  /**
   * Hosts redirects may lead to (the url's own host is always allowed). Default: any https host.
   * GALMORPH_DOWNLOAD_HOSTS (comma-separated) adds to a given list.
   */
  allowedHosts?: readonly string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Refuses a url outside what the download may reach (see the file comment). */
function checkUrl(url: URL, start: URL, allowed: Set<string> | undefined): void {
  const loopback = LOOPBACK.has(url.hostname) && LOOPBACK.has(start.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback && start.protocol === 'http:')) {
    throw new Error(`${url.protocol === 'http:' ? 'plain http' : url.protocol} is refused (${url.href}): downloads use https`);
  }
  if (url.host !== start.host && allowed && !allowed.has(url.hostname)) {
    throw new Error(`a redirect to ${url.host} is refused: allowed hosts are ${[...allowed].join(', ')} (add more with GALMORPH_DOWNLOAD_HOSTS)`);
  }
}

export interface DownloadResult {
  file: string;
  sha256: string;
  size: number;
  /** Bytes that were already in the `.part` file and not downloaded again. */
  resumedFrom: number;
}

/** GET with redirects followed (Zenodo and GitHub redirect to storage hosts), each hop checked. */
function get(url: string, headers: Record<string, string>, start: URL, allowed: Set<string> | undefined, redirects = 5): Promise<{ res: http.IncomingMessage; url: URL }> {
  return new Promise((resolve, reject) => {
    const at = new URL(url);
    try {
      checkUrl(at, start, allowed);
    } catch (err) {
      return reject(err as Error);
    }
    const lib = at.protocol === 'https:' ? https : http;
    const req = lib.get(at, { headers: { 'user-agent': 'galmorph', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects === 0) return reject(new Error(`too many redirects at ${url}`));
        return resolve(get(new URL(res.headers.location, url).toString(), headers, start, allowed, redirects - 1));
      }
      resolve({ res, url: at });
    });
    req.on('error', reject);
  });
}

/** Bytes received but not yet on disk before reading pauses. */
const WRITE_AHEAD_BYTES = 64 * 1024 * 1024;

/**
 * Downloads `url` to `dest`, resuming a previous partial download (`dest.part`) with a Range request.
 * Verifies size and sha256 when they are given; on a mismatch the download is deleted and refused.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const part = `${dest}.part`;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const extra = (process.env.GALMORPH_DOWNLOAD_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const allowed = options.allowedHosts ? new Set([...options.allowedHosts, ...extra]) : undefined;
  let start: URL;
  try {
    start = new URL(url);
  } catch {
    throw new Error(`galmorph: cannot download '${url}': not a URL`);
  }
  const { res, url: final } = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, start, allowed).catch((err: Error) => {
    throw new Error(`galmorph: cannot download ${url}: ${err.message}`);
  });
  if (!options.sha256 && final.host !== start.host) {
    res.resume();
    fs.rmSync(part, { force: true });
    throw new Error(
      `galmorph: cannot download ${url}: it redirects to ${final.host}, and with no sha256 in the manifest nothing would verify what that host sends; ` +
        'add the file\'s sha256 to the manifest to accept it',
    );
  }
  const status = res.statusCode ?? 0;
  let resumedFrom = 0;
  if (status === 206) resumedFrom = have;
  else if (status === 416 && have > 0 && options.size === have) resumedFrom = have; // the part was already complete
  else if (status !== 200) {
    res.resume();
    throw new Error(`galmorph: cannot download ${url}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd());
  }
  if (status !== 416) {
    const length = Number(res.headers['content-length']);
    const total = Number.isFinite(length) ? resumedFrom + length : options.size ?? undefined;
    const limit = options.size ?? undefined;
    const tooLong = (n: number) => `galmorph: refused ${dest} (from ${url}): the server sent ${n === Infinity ? 'more' : n} bytes, more than the ${limit} the manifest gives; the download was deleted`;
    if (limit !== undefined && total !== undefined && total > limit) {
      res.destroy();
      fs.rmSync(part, { force: true });
      throw new Error(tooLong(total));
    }
    let overflow = false;
    let done = resumedFrom;
    // 200 means the server ignored the Range: start again from byte 0.
    const out = fs.createWriteStream(part, { flags: resumedFrom > 0 ? 'a' : 'w' });
    await new Promise<void>((resolve, reject) => {
      // Every chunk that arrives is handed to the file at once (no pipe): a pipe pauses the response
      // when the disk lags, and what it holds back is lost when the connection then drops, so the
      // next attempt would resume from fewer bytes than arrived. Reading pauses only when far ahead.
      res.on('data', (chunk: Buffer) => {
        if (limit !== undefined && done + chunk.length > limit) {
          // Never more than the manifest's size on disk.
          overflow = true;
          res.destroy();
          reject(new Error('too long'));
          return;
        }
        out.write(chunk);
        done += chunk.length;
        options.onProgress?.(done, total);
        if (out.writableLength > WRITE_AHEAD_BYTES) {
          res.pause();
          out.once('drain', () => res.resume());
        }
      });
      res.on('end', () => out.end());
      res.on('aborted', () => reject(new Error('connection closed early')));
      res.on('error', reject);
      out.on('error', reject);
      out.on('finish', resolve);
    }).catch(async (err: Error) => {
      // Flush what arrived so the next attempt resumes after it.
      await new Promise<void>((resolve) => out.end(resolve));
      if (overflow) {
        fs.rmSync(part, { force: true });
        throw new Error(tooLong(Infinity));
      }
      throw new Error(`galmorph: download of ${url} interrupted after ${done} bytes (${err.message}); run the same command again to resume from ${part}`);
    });
    if (total !== undefined && done < total) {
      throw new Error(`galmorph: download of ${url} interrupted after ${done} of ${total} bytes; run the same command again to resume from ${part}`);
    }
  }
  const size = fs.statSync(part).size;
  const sha256 = await sha256File(part);
  const wrongSize = options.size != null && size !== options.size;
  if (wrongSize || (options.sha256 && sha256 !== options.sha256)) {
    fs.rmSync(part, { force: true });
    throw new Error(
      `galmorph: checksum mismatch, refused ${dest} (from ${url}): expected ${options.sha256 ?? '(any sha256)'} and ${options.size ?? '?'} bytes, ` +
        `got ${sha256} and ${size} bytes. The download was deleted.`,
    );
  }
  fs.renameSync(part, dest);
  return { file: dest, sha256, size, resumedFrom };
}
