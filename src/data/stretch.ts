/**
 * Lupton et al. (2004, PASP 116, 133) asinh colour stretch: maps three flux planes to 8-bit RGB while
 * keeping colours (ratios between bands) for faint and bright pixels alike. The mapping is astropy's
 * `make_lupton_rgb(r, g, b, minimum, stretch, Q)`, so images match what astronomers see there:
 *   I = mean(r, g, b) after subtracting `minimum`;
 *   each band is multiplied by asinh(Q I / stretch) x slope / I, slope = 255 x 0.1 / asinh(0.1 Q);
 *   a pixel whose largest band exceeds 255 is scaled down as a whole (hue kept), negatives become 0.
 */

export interface LuptonOptions {
  /** Flux mapped to black, per band or one for all. Default 0. */
  minimum?: number | [number, number, number];
  /** Linear range of the stretch (flux units). Default 5 as astropy; cutouts in nanomaggies want ~0.5. */
  stretch?: number;
  /** Asinh softening. Default 8. */
  Q?: number;
}

/** Interleaved RGB bytes from three planes of `n` physical values (NaN counts as the minimum). */
export function luptonRgb(r: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>, options: LuptonOptions = {}): Uint8Array {
  const n = r.length;
  if (g.length !== n || b.length !== n) throw new Error(`Lupton stretch: the three bands differ in size (${r.length}, ${g.length}, ${b.length})`);
  const mins = typeof options.minimum === 'number' || options.minimum === undefined ? [options.minimum ?? 0, options.minimum ?? 0, options.minimum ?? 0] : options.minimum;
  const stretch = options.stretch ?? 5;
  const Q = options.Q ?? 8;
  const slope = (255 * 0.1) / Math.asinh(0.1 * Q);
  const out = new Uint8Array(n * 3);
  const bands = [r, g, b];
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      const v = bands[k]![i]! - mins[k]!;
      c[k] = Number.isNaN(v) ? 0 : v;
    }
    const I = (c[0]! + c[1]! + c[2]!) / 3;
    const fac = I <= 0 ? 0 : (Math.asinh((I * Q) / stretch) * slope) / I;
    const peak = Math.max(c[0]!, c[1]!, c[2]!) * fac;
    const scale = peak > 255 ? 255 / peak : 1;
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.max(0, Math.min(255, Math.floor(c[k]! * fac * scale)));
  }
  return out;
}
