/**
 * Galaxy images from disk. sharp decodes JPEG/PNG/WebP/TIFF; every error names the file.
 */
import sharp from 'sharp';

export interface RgbImage {
  /** Interleaved RGB bytes, row-major, `height * width * 3` long. */
  data: Uint8Array;
  width: number;
  height: number;
}

function wrap(file: string, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  return new Error(`galmorph: cannot read image ${file}: ${msg}`);
}

/** Decodes an image to RGB bytes, optionally resized to `size` x `size` (area-averaged). */
export async function readRgb(file: string, size?: number): Promise<RgbImage> {
  try {
    let pipeline = sharp(file).removeAlpha().toColourspace('srgb');
    if (size !== undefined) pipeline = pipeline.resize(size, size, { fit: 'fill', kernel: 'lanczos3' });
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (err) {
    throw wrap(file, err);
  }
}

/** A small JPEG of the image as a `data:` URI, for HTML galaxy grids that work offline. */
export async function thumbnailDataUri(file: string, size = 128): Promise<string> {
  try {
    const jpeg = await sharp(file).resize(size, size, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch (err) {
    throw wrap(file, err);
  }
}
