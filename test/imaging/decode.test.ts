import { encode as encodePng } from "fast-png";
import { beforeAll, describe, expect, it } from "vitest";
import { ImageDecodeError, decodeImage, readImageSize, sniffFormat } from "../../worker/imaging/decode.ts";
import { decodeJpeg, encodeJpeg } from "../../worker/imaging/jpeg.ts";
import { installBundledJpegCodec } from "../../worker/imaging/jpeg-wasm.worker.ts";
import { decodePanoptic, encodePanoptic } from "../../worker/imaging/panoptic.ts";
import { sample, sampleMissingReason } from "../support/sample.ts";

const skipped = sampleMissingReason ? ` (skipped: ${sampleMissingReason})` : "";

// The same bundled mozjpeg modules the Worker uses (imported .wasm, compiled by the pool).
beforeAll(() => installBundledJpegCodec());

async function expectDecodeError(fn: () => unknown, reason: RegExp, field = "image"): Promise<void> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageDecodeError);
    const e = err as ImageDecodeError;
    expect(e.field).toBe(field);
    expect(e.reason).toMatch(reason);
    expect(e.message).toBe(`${field}: ${e.reason}`);
    return;
  }
  expect.fail(`expected ImageDecodeError matching ${reason}`);
}

/** The SOFn marker byte of a JPEG (0xc0 baseline, 0xc1 extended, 0xc2 progressive). */
function frameMarker(jpeg: Uint8Array): number | null {
  for (let o = 2; o + 3 < jpeg.length; ) {
    const marker = jpeg[o + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return marker;
    if (marker === 0xda) return null;
    o += 2 + ((jpeg[o + 2] << 8) | jpeg[o + 3]);
  }
  return null;
}

const rgbPng = (width: number, height: number, fill: (x: number, y: number) => [number, number, number]) => {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(fill(x, y), (y * width + x) * 3);
  return encodePng({ width, height, data, channels: 3, depth: 8 });
};

describe("sniffFormat / readImageSize", () => {
  it("recognises PNG and JPEG signatures only", () => {
    expect(sniffFormat(rgbPng(2, 2, () => [1, 2, 3]))).toBe("png");
    expect(sniffFormat(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0))).toBe("jpeg");
    expect(sniffFormat(new TextEncoder().encode("GIF89a..."))).toBeNull();
    expect(sniffFormat(new Uint8Array(0))).toBeNull();
  });

  it("reads PNG dimensions from IHDR", () => {
    expect(readImageSize(rgbPng(7, 3, () => [0, 0, 0]))).toEqual({ format: "png", width: 7, height: 3 });
  });

  it.skipIf(!sample)(`reads JPEG and PNG dimensions of the sample without decoding${skipped}`, () => {
    expect(readImageSize(sample!.file("images/000000142238.jpg"))).toEqual({ format: "jpeg", width: 640, height: 427 });
    expect(readImageSize(sample!.file("images/000000439180.jpg"))).toEqual({ format: "jpeg", width: 640, height: 360 });
    expect(readImageSize(sample!.file("panoptic/000000142238.png"))).toEqual({ format: "png", width: 640, height: 427 });
  });
});

describe("decodeImage", () => {
  it.skipIf(!sample)(`decodes the sample JPEG to 640×427 RGBA${skipped}`, async () => {
    const img = await decodeImage(sample!.file("images/000000142238.jpg"), "image");
    expect(img.format).toBe("jpeg");
    expect([img.width, img.height]).toEqual([640, 427]);
    expect(img.rgba).toBeInstanceOf(Uint8Array);
    expect(img.rgba.length).toBe(640 * 427 * 4);
    expect(img.rgba[3]).toBe(255);
  });

  it.skipIf(!sample)(`rejects a truncated JPEG, wherever it is cut${skipped}`, async () => {
    const jpeg = sample!.file("images/000000142238.jpg");
    for (const cut of [jpeg.length - 1, jpeg.length - 2, Math.floor(jpeg.length * 0.9), Math.floor(jpeg.length / 2), 40_000]) {
      await expectDecodeError(() => decodeImage(jpeg.subarray(0, cut), "image"), /truncated/i);
    }
    // Cut inside the headers, before the frame header: still an ImageDecodeError.
    await expectDecodeError(() => decodeImage(jpeg.subarray(0, 100), "image"), /truncated or corrupt JPEG/);
  });

  it.skipIf(!sample)(`rejects a JPEG whose scan data is corrupted${skipped}`, async () => {
    const jpeg = sample!.file("images/000000142238.jpg").slice();
    // Overwrite part of the entropy-coded data with a bogus marker sequence.
    jpeg.set([0xff, 0xc4, 0xff, 0xc4], 60_000);
    await expectDecodeError(() => decodeImage(jpeg, "image"), /JPEG is corrupt/);
  });

  it.skipIf(!sample)(`accepts junk between the scan data and EOI, which leaves every pixel intact${skipped}`, async () => {
    const jpeg = sample!.file("images/000000142238.jpg");
    const n = jpeg.length;
    const padded = new Uint8Array(n + 3);
    padded.set(jpeg.subarray(0, n - 2));
    padded.set([0x12, 0x34, 0x56, 0xff, 0xd9], n - 2);
    const img = await decodeImage(padded, "image");
    expect([img.width, img.height]).toEqual([640, 427]);
  });

  it.skipIf(!sample)(`keeps working after a corrupt JPEG: corrupt, then good, then corrupt, then good${skipped}`, async () => {
    const good = sample!.file("images/000000142238.jpg");
    const corrupt = good.slice();
    corrupt.set([0xff, 0xc4, 0xff, 0xc4], 60_000); // ends in libjpeg's exit(): the instance is replaced
    const expected = await decodeImage(good, "image");
    for (let round = 0; round < 2; round++) {
      await expectDecodeError(() => decodeImage(corrupt, "image"), /^JPEG is corrupt: \S/);
      const again = await decodeImage(good, "image");
      expect([again.width, again.height]).toEqual([640, 427]);
      let differing = 0; // counted by hand: toEqual on a 1 MB array takes seconds
      for (let i = 0; i < expected.rgba.length; i++) if (again.rgba[i] !== expected.rgba[i]) differing++;
      expect(differing).toBe(0);
    }
  });

  it.skipIf(!sample)(`decodes concurrent JPEGs independently, attributing each error to its own image${skipped}`, async () => {
    const good = sample!.file("images/000000142238.jpg");
    const other = sample!.file("images/000000439180.jpg");
    const corrupt = good.slice();
    corrupt.set([0xff, 0xc4, 0xff, 0xc4], 60_000);
    const results = await Promise.allSettled([good, corrupt, other, corrupt, good].map((b) => decodeImage(b, "image")));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.height : 0))).toEqual([427, 0, 360, 0, 427]);
  });

  it("round-trips an image through encodeJpeg and decodeJpeg closely", async () => {
    const width = 160;
    const height = 90;
    const rgba = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        // Smooth gradients plus a hard-edged block, the kind of content a set-of-marks render has.
        const inBlock = x >= 40 && x < 80 && y >= 20 && y < 60;
        rgba.set(inBlock ? [230, 40, 40, 255] : [(x * 255) / width, (y * 255) / height, 128, 255], (y * width + x) * 4);
      }
    }
    const jpeg = await encodeJpeg(rgba, width, height, 90);
    expect(sniffFormat(jpeg)).toBe("jpeg");
    expect(readImageSize(jpeg)).toEqual({ format: "jpeg", width, height });
    const back = await decodeImage(jpeg, "image");
    expect([back.format, back.width, back.height, back.rgba.length]).toEqual(["jpeg", width, height, rgba.length]);
    let sum = 0;
    for (let i = 0; i < rgba.length; i++) if (i % 4 !== 3) sum += Math.abs(back.rgba[i] - rgba[i]);
    const meanAbsDiff = sum / (width * height * 3);
    expect(meanAbsDiff).toBeLessThan(3);
    expect(back.rgba[3]).toBe(255);
    // Full-resolution chroma keeps the red block's edge sharper than 4:2:0.
    const full = await decodeJpeg(await encodeJpeg(rgba, width, height, 90, { subsampleChroma: false }));
    expect([full.width, full.height]).toEqual([width, height]);
  });

  it("encodes baseline JPEGs at any quality (libjpeg's table warnings are not errors), progressive on request", async () => {
    const rgba = new Uint8Array(64 * 48 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) & 255));
    for (const quality of [1, 30, 60, 100]) {
      const jpeg = await encodeJpeg(rgba, 64, 48, quality);
      expect(frameMarker(jpeg), `quality ${quality}`).toBe(0xc0); // SOF0: baseline
      expect((await decodeJpeg(jpeg)).width).toBe(64);
    }
    const progressive = await encodeJpeg(rgba, 64, 48, 75, { progressive: true });
    expect(frameMarker(progressive)).toBe(0xc2); // SOF2
    expect((await decodeImage(progressive, "image")).height).toBe(48);
  });

  it("refuses to encode pixels that do not match the stated size", async () => {
    await expect(encodeJpeg(new Uint8Array(10), 2, 2)).rejects.toThrow(RangeError);
    await expect(encodeJpeg(new Uint8Array(16), 2, 2, 0)).rejects.toThrow(RangeError);
  });

  it("rejects a truncated PNG", async () => {
    const png = rgbPng(64, 48, (x, y) => [x * 4, y * 5, (x * y) & 255]);
    for (const cut of [png.length - 4, png.length - 12, Math.floor(png.length / 2), 30, 20]) {
      await expectDecodeError(() => decodeImage(png.subarray(0, cut), "image"), /truncated or corrupt PNG/);
    }
  });

  it("rejects a PNG with a corrupted byte (CRC mismatch)", async () => {
    const png = rgbPng(16, 16, (x, y) => [x * 16, y * 16, 0]).slice();
    png[png.length - 20] ^= 0xff; // inside the IDAT payload
    await expectDecodeError(() => decodeImage(png, "image"), /truncated or corrupt PNG/);
  });

  it("rejects random bytes and text as not a JPEG or PNG", async () => {
    let s = 7;
    const noise = Uint8Array.from({ length: 4096 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24));
    noise[0] = 0x42; // make sure it cannot start like a real signature
    await expectDecodeError(() => decodeImage(noise, "photo"), /not a JPEG or PNG file \(unrecognised signature\)/, "photo");
    await expectDecodeError(() => decodeImage(new TextEncoder().encode("hello, this is text"), "image"), /not a JPEG or PNG/);
    await expectDecodeError(() => decodeImage(new Uint8Array(0), "image"), /empty file/);
  });

  it("rejects a JPEG signature followed by garbage", async () => {
    await expectDecodeError(() => decodeImage(Uint8Array.of(0xff, 0xd8, 0xff, 0x00, 1, 2, 3, 4, 5, 6), "image"), /JPEG/);
  });

  it("rejects images over the pixel limit before decoding them", async () => {
    const png = rgbPng(40, 30, () => [9, 9, 9]);
    await expectDecodeError(() => decodeImage(png, "image", { maxPixels: 1000 }), /40×30 = 1200 pixels, over the limit of 1000/);
    expect((await decodeImage(png, "image", { maxPixels: 1200 })).width).toBe(40);
  });

  it("expands 8-bit RGB, RGBA, gray and gray+alpha PNGs to RGBA", async () => {
    const rgb = await decodeImage(encodePng({ width: 2, height: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6), channels: 3, depth: 8 }), "i");
    expect([...rgb.rgba]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
    const rgba = await decodeImage(encodePng({ width: 1, height: 1, data: Uint8Array.of(9, 8, 7, 6), channels: 4, depth: 8 }), "i");
    expect([...rgba.rgba]).toEqual([9, 8, 7, 6]);
    const gray = await decodeImage(encodePng({ width: 2, height: 1, data: Uint8Array.of(0, 200), channels: 1, depth: 8 }), "i");
    expect([...gray.rgba]).toEqual([0, 0, 0, 255, 200, 200, 200, 255]);
    const ga = await decodeImage(encodePng({ width: 1, height: 1, data: Uint8Array.of(50, 128), channels: 2, depth: 8 }), "i");
    expect([...ga.rgba]).toEqual([50, 50, 50, 128]);
  });

  it("reduces 16-bit PNGs to 8 bits per channel", async () => {
    const png = encodePng({ width: 2, height: 1, data: Uint16Array.of(65535, 0, 257 * 100, 65535, 32896, 0), channels: 3, depth: 16 });
    expect([...(await decodeImage(png, "i")).rgba]).toEqual([255, 0, 100, 255, 255, 128, 0, 255]);
  });

  it("expands palette PNGs, including packed 4-bit indices and palette alpha", async () => {
    const palette = [
      [10, 20, 30],
      [40, 50, 60],
      [70, 80, 90],
    ];
    // 3×1 pixels at 4 bits: indices 2, 0, 1 → bytes 0x20, 0x10.
    const png = encodePng({ width: 3, height: 1, data: Uint8Array.of(0x20, 0x10), channels: 1, depth: 4, palette });
    expect([...(await decodeImage(png, "i")).rgba]).toEqual([70, 80, 90, 255, 10, 20, 30, 255, 40, 50, 60, 255]);
    const withAlpha = encodePng({ width: 1, height: 1, data: Uint8Array.of(0), channels: 1, depth: 8, palette: [[1, 2, 3, 4]] });
    expect([...(await decodeImage(withAlpha, "i")).rgba]).toEqual([1, 2, 3, 4]);
  });
});

describe("decodePanoptic / encodePanoptic", () => {
  it("round-trips an id map exactly, including ids ≥ 65536 and the largest 24-bit id", () => {
    const width = 37;
    const height = 11;
    const ids = new Uint32Array(width * height);
    for (let i = 0; i < ids.length; i++) ids[i] = i % 5 === 0 ? 0 : (i * 2_654_435_761) % 0x1000000;
    ids[1] = 65_536;
    ids[2] = 0xffffff;
    ids[3] = 3_937_500;
    const png = encodePanoptic({ width, height, ids });
    expect(sniffFormat(png)).toBe("png");
    const back = decodePanoptic(png);
    expect(back.width).toBe(width);
    expect(back.height).toBe(height);
    expect(back.ids).toEqual(ids);
  });

  it("refuses ids that do not fit in 24-bit RGB", () => {
    expect(() => encodePanoptic({ width: 1, height: 1, ids: Uint32Array.of(0x1000000) })).toThrow(RangeError);
  });

  it("ignores alpha in RGBA maps and maps palette indices through the palette", () => {
    const rgba = encodePng({ width: 2, height: 1, data: Uint8Array.of(1, 0, 0, 255, 0, 1, 1, 0), channels: 4, depth: 8 });
    expect([...decodePanoptic(rgba).ids]).toEqual([1, 256 + 65536]);
    const palette = [
      [0, 0, 0],
      [3, 2, 1],
    ];
    const indexed = encodePng({ width: 3, height: 1, data: Uint8Array.of(1, 0, 1), channels: 1, depth: 8, palette });
    expect([...decodePanoptic(indexed).ids]).toEqual([3 + 2 * 256 + 65536, 0, 3 + 2 * 256 + 65536]);
  });

  it("rejects grayscale and 16-bit maps with a clear reason", async () => {
    const gray = encodePng({ width: 1, height: 1, data: Uint8Array.of(5), channels: 1, depth: 8 });
    await expectDecodeError(() => decodePanoptic(gray), /must be RGB, RGBA or palette, got grayscale/, "panoptic");
    const deep = encodePng({ width: 1, height: 1, data: Uint16Array.of(1, 2, 3), channels: 3, depth: 16 });
    await expectDecodeError(() => decodePanoptic(deep, "segmentation"), /8 bits per channel, got 16-bit RGB/, "segmentation");
  });

  it("rejects non-images and truncated PNGs", async () => {
    await expectDecodeError(() => decodePanoptic(new TextEncoder().encode("{}")), /not a JPEG or PNG/, "panoptic");
    const png = encodePanoptic({ width: 8, height: 8, ids: new Uint32Array(64).fill(123_456) });
    await expectDecodeError(() => decodePanoptic(png.subarray(0, png.length - 16)), /truncated or corrupt PNG/, "panoptic");
  });

  it.skipIf(!sample)(`rejects a JPEG as panoptic map (must be lossless PNG)${skipped}`, async () => {
    await expectDecodeError(() => decodePanoptic(sample!.file("images/000000142238.jpg")), /must be lossless PNG/, "panoptic");
  });

  it.skipIf(!sample)(`decodes the sample panoptic PNG${skipped}`, () => {
    const map = decodePanoptic(sample!.file("panoptic/000000142238.png"));
    expect([map.width, map.height, map.ids.length]).toEqual([640, 427, 640 * 427]);
  });
});
