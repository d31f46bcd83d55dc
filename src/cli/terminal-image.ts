/**
 * An image drawn in a terminal with 24-bit ANSI colour: each character cell is the upper-half-block
 * character '▀' with the foreground colour of one pixel and the background colour of the pixel
 * below it, so a W-wide square image takes W columns and W/2 rows and its pixels stay square.
 */
import { readImage } from '../data/images';

export interface TerminalImageOptions {
  /** Width in character cells (the height is half of it, in rows). Default 48. */
  width?: number;
}

/** The ANSI text of an image (JPEG/PNG/FITS…), resized to `width` × `width` pixels. */
export async function terminalImage(file: string, options: TerminalImageOptions = {}): Promise<string> {
  const width = options.width ?? 48;
  if (!Number.isInteger(width) || width < 2) throw new Error(`galmorph: terminal image width must be an integer of at least 2, got ${width}`);
  const px = await readImage(file, { size: width });
  const at = (x: number, y: number) => {
    const i = 3 * (y * px.width + x);
    return `${px.data[i]};${px.data[i + 1]};${px.data[i + 2]}`;
  };
  const lines: string[] = [];
  for (let y = 0; y < px.height; y += 2) {
    let line = '';
    for (let x = 0; x < px.width; x++) {
      const bottom = y + 1 < px.height ? `\x1b[48;2;${at(x, y + 1)}m` : '\x1b[49m';
      line += `\x1b[38;2;${at(x, y)}m${bottom}▀`;
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines.join('\n');
}
