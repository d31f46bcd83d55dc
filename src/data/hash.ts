/** Streaming sha256 of files: constant memory, so multi-GB upstream archives hash too. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

/** Hex sha256 of a file, read in chunks. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', (err) => reject(new Error(`galmorph: cannot read ${file} to checksum it: ${err.message}`)))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the input order in the result. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
