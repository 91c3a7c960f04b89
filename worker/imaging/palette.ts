/**
 * Mark colours of the set-of-marks renderer: a fixed table, so a render never depends on anything
 * but its inputs (no random colours as in SoM's own visualizer).
 *
 * Hues step by the golden ratio (consecutive marks are far apart on the colour wheel), cycling
 * through three saturation/value pairs so that marks whose hues come close again still differ in
 * lightness. Generated once with HSV → RGB and frozen here as literals; do not regenerate without
 * bumping SOM_RENDER_VERSION.
 */

const PALETTE_HEX = [
  0xff6726, 0x6261f2, 0x3acc00, 0xff26a3, 0x61dff2, 0xccac00, 0x9d26ff, 0x61f286, 0xcc0007, 0x266dff, 0xbbf261, 0xcc00ba, 0x26ffd3, 0xf2ab61,
  0x2c00cc, 0x37ff26, 0xf26196, 0x0087cc, 0xf5ff26, 0xcf61f2, 0x00cc5f, 0xff4c26, 0x6172f2, 0x54cc00, 0xff26bf, 0x61f2f2, 0xcc9200, 0x8226ff,
  0x61f274, 0xcc0021, 0x2689ff, 0xcdf261, 0xc400cc, 0x26ffb8, 0xf29861, 0x1200cc, 0x53ff26, 0xf261a9, 0x00a1cc, 0xffee26, 0xbc61f2, 0x00cc45,
  0xff3026, 0x6185f2, 0x6ecc00, 0xff26da, 0x61f2e0, 0xcc7700, 0x6626ff, 0x61f261, 0xcc003b, 0x26a4ff, 0xe0f261, 0xaa00cc, 0x26ff9c, 0xf28561,
  0x0008cc, 0x6eff26, 0xf261bc, 0x00bbcc, 0xffd226, 0xaa61f2, 0x00cc2b, 0xff2638,
] as const;

/** How many distinct colours there are before they repeat (mark 65 has mark 1's colour). */
export const PALETTE_SIZE = PALETTE_HEX.length;

export type Rgb = readonly [r: number, g: number, b: number];

/** The colour of mark `number` (1-based): fill, contour and nothing else. */
export function markColour(number: number): Rgb {
  if (!Number.isInteger(number) || number < 1) throw new RangeError(`mark numbers start at 1, got ${number}`);
  const hex = PALETTE_HEX[(number - 1) % PALETTE_SIZE];
  return [hex >>> 16, (hex >>> 8) & 0xff, hex & 0xff];
}
