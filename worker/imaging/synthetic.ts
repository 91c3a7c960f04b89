/**
 * Deterministic synthetic COCO-panoptic scenes, so a demo project can be seeded (and tests can run)
 * without any real data: a stuff background (sky or wall over grass or pavement, maybe trees) with
 * 3–6 "thing" instances drawn both into a photo-like RGB image and into the panoptic id map.
 *
 * Pure. Same seed and size → byte-identical PNGs. segments_info is measured from the drawn map
 * rather than from the shapes, so occlusion can never make it disagree with the PNG.
 */
import { seededRandom } from "../domain/random.ts";
import { encode as encodePngLib } from "fast-png";
import type { SegmentInfo } from "../domain/segments-check.ts";
import { encodePanoptic } from "./panoptic.ts";
import { measureSegments } from "./segments.ts";

export interface SyntheticScene {
  fileName: string;
  /** RGB 8-bit PNG. */
  image: Uint8Array;
  /** COCO-panoptic RGB PNG (id = R + 256·G + 256²·B). */
  panoptic: Uint8Array;
  segmentsInfo: SegmentInfo[];
}

type Rgb = [number, number, number];

/** COCO-panoptic category ids and their official colours (panoptic_coco_categories.json). */
const CATEGORY = {
  person: { id: 1, color: [220, 20, 60] },
  bicycle: { id: 2, color: [119, 11, 32] },
  car: { id: 3, color: [0, 0, 142] },
  cat: { id: 17, color: [255, 77, 255] },
  dog: { id: 18, color: [0, 226, 252] },
  tree: { id: 184, color: [107, 142, 35] },
  sky: { id: 187, color: [70, 130, 180] },
  pavement: { id: 191, color: [96, 96, 96] },
  grass: { id: 193, color: [152, 251, 152] },
  wall: { id: 199, color: [102, 102, 156] },
} satisfies Record<string, { id: number; color: Rgb }>;

type CategoryName = keyof typeof CATEGORY;
type ThingName = "person" | "bicycle" | "car" | "cat" | "dog";
const THINGS: ThingName[] = ["person", "person", "car", "dog", "cat", "bicycle"];

/** A drawable part: a membership test over a bounding box plus a colour per pixel. */
interface Part {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  inside(x: number, y: number): boolean;
  colour(x: number, y: number): Rgb;
}

function ellipse(cx: number, cy: number, rx: number, ry: number, base: Rgb): Part {
  return {
    x0: cx - rx,
    y0: cy - ry,
    x1: cx + rx,
    y1: cy + ry,
    inside: (x, y) => sq((x - cx) / rx) + sq((y - cy) / ry) <= 1,
    // Lit from the upper left: a soft highlight fading towards the lower right rim.
    colour: (x, y) => shade(base, 1.15 - 0.225 * (sq((x - cx + rx * 0.4) / rx) + sq((y - cy + ry * 0.4) / ry))),
  };
}

function rect(x0: number, y0: number, x1: number, y1: number, base: Rgb): Part {
  return {
    x0,
    y0,
    x1,
    y1,
    inside: (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1,
    colour: (_x, y) => shade(base, 1.1 - (0.3 * (y - y0)) / Math.max(1, y1 - y0)),
  };
}

function ring(cx: number, cy: number, r: number, thickness: number, base: Rgb): Part {
  return {
    x0: cx - r,
    y0: cy - r,
    x1: cx + r,
    y1: cy + r,
    inside: (x, y) => {
      const d = Math.sqrt(sq(x - cx) + sq(y - cy));
      return d <= r && d >= r - thickness;
    },
    colour: () => base,
  };
}

/** Triangle outline of the given thickness (a bicycle frame). */
function triangleFrame(p: [number, number][], thickness: number, base: Rgb): Part {
  const xs = p.map((q) => q[0]);
  const ys = p.map((q) => q[1]);
  const near = (x: number, y: number, a: [number, number], b: [number, number]) => {
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const t = Math.max(0, Math.min(1, ((x - a[0]) * dx + (y - a[1]) * dy) / (dx * dx + dy * dy)));
    return sq(x - a[0] - t * dx) + sq(y - a[1] - t * dy) <= sq(thickness / 2);
  };
  return {
    x0: Math.min(...xs) - thickness,
    y0: Math.min(...ys) - thickness,
    x1: Math.max(...xs) + thickness,
    y1: Math.max(...ys) + thickness,
    inside: (x, y) => near(x, y, p[0], p[1]) || near(x, y, p[1], p[2]) || near(x, y, p[2], p[0]),
    colour: () => base,
  };
}

// Plain arithmetic only (no Math.hypot / **), which IEEE fixes exactly, so the output bytes do not
// depend on the JS engine's math library.
function sq(v: number): number {
  return v * v;
}

function shade(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

const CLOTHES: Rgb[] = [[200, 40, 40], [40, 70, 160], [230, 200, 60], [60, 130, 80], [240, 240, 235], [40, 40, 45]];
const SKIN: Rgb[] = [[235, 195, 165], [200, 150, 110], [140, 95, 65], [90, 60, 45]];
const PAINT: Rgb[] = [[180, 30, 30], [30, 60, 150], [190, 190, 195], [25, 25, 30], [235, 235, 235]];
const FUR_DOG: Rgb[] = [[150, 100, 55], [215, 175, 110], [45, 35, 30], [230, 225, 215]];
const FUR_CAT: Rgb[] = [[220, 140, 60], [130, 130, 135], [35, 35, 38], [240, 235, 225]];

/** The parts of one thing instance standing on the ground at (x, footY), about `size` px tall. */
function thingParts(kind: ThingName, x: number, footY: number, size: number, rand: () => number): Part[] {
  switch (kind) {
    case "person": {
      const clothes = pick(rand, CLOTHES);
      const headR = size * 0.1;
      return [
        ellipse(x, footY - size * 0.4, size * 0.14, size * 0.4, clothes),
        ellipse(x, footY - size * 0.8 - headR, headR, headR * 1.15, pick(rand, SKIN)),
      ];
    }
    case "car": {
      const paint = pick(rand, PAINT);
      const len = size * 2.2;
      const wheel = size * 0.2;
      return [
        rect(x - len / 2, footY - size * 0.55, x + len / 2, footY - wheel, paint),
        rect(x - len * 0.28, footY - size, x + len * 0.25, footY - size * 0.55, [60, 75, 95]),
        ellipse(x - len * 0.3, footY - wheel, wheel, wheel, [20, 20, 22]),
        ellipse(x + len * 0.3, footY - wheel, wheel, wheel, [20, 20, 22]),
      ];
    }
    case "dog":
    case "cat": {
      const fur = pick(rand, kind === "dog" ? FUR_DOG : FUR_CAT);
      const dir = rand() < 0.5 ? -1 : 1;
      const body = size * (kind === "dog" ? 0.55 : 0.45);
      return [
        ellipse(x, footY - body * 0.55, body, body * 0.45, fur),
        ellipse(x + dir * body * 0.95, footY - body * 0.95, body * 0.35, body * 0.32, fur),
        rect(x - body * 0.7, footY - body * 0.4, x - body * 0.5, footY, fur),
        rect(x + body * 0.5, footY - body * 0.4, x + body * 0.7, footY, fur),
      ];
    }
    case "bicycle": {
      const r = size * 0.35;
      const frame = pick(rand, PAINT);
      const t = Math.max(2, size * 0.05);
      return [
        ring(x - r * 1.3, footY - r, r, t, [25, 25, 25]),
        ring(x + r * 1.3, footY - r, r, t, [25, 25, 25]),
        triangleFrame([[x - r * 1.3, footY - r], [x, footY - r], [x - r * 0.3, footY - r * 2.2]], t, frame),
        triangleFrame([[x, footY - r], [x + r * 1.3, footY - r], [x - r * 0.3, footY - r * 2.2]], t, frame),
      ];
    }
  }
}

export function synthesizeScene(seed: number, opts: { width?: number; height?: number } = {}): SyntheticScene {
  const width = opts.width ?? 320;
  const height = opts.height ?? 240;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
    throw new RangeError(`synthetic scenes need integer sizes of at least 16×16, got ${width}×${height}`);
  }
  const rand = seededRandom(seed);
  const n = width * height;
  const ids = new Uint32Array(n);
  const rgb = new Float32Array(n * 3);
  const categoryOf = new Map<number, number>();

  // Thing ids follow panopticapi's IdGenerator: the category colour, jittered until unused, so the
  // PNG looks like a real COCO-panoptic one. Stuff takes its category colour as is.
  const newId = (name: CategoryName, isThing: boolean): number => {
    const [r, g, b] = CATEGORY[name].color;
    for (;;) {
      const jitter = () => (isThing ? Math.floor(rand() * 61) - 30 : 0);
      const c = [r + jitter(), g + jitter(), b + jitter()].map((v) => Math.max(0, Math.min(255, v)));
      const id = c[0] + 256 * c[1] + 65536 * c[2];
      if (id !== 0 && !categoryOf.has(id)) {
        categoryOf.set(id, CATEGORY[name].id);
        return id;
      }
    }
  };
  const paint = (part: Part, id: number) => {
    const x0 = Math.max(0, Math.floor(part.x0));
    const y0 = Math.max(0, Math.floor(part.y0));
    const x1 = Math.min(width - 1, Math.ceil(part.x1));
    const y1 = Math.min(height - 1, Math.ceil(part.y1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (!part.inside(x + 0.5, y + 0.5)) continue;
        const i = y * width + x;
        ids[i] = id;
        const c = part.colour(x + 0.5, y + 0.5);
        rgb[i * 3] = c[0];
        rgb[i * 3 + 1] = c[1];
        rgb[i * 3 + 2] = c[2];
      }
    }
  };

  // Background: an upper stuff region over a ground region, split at a horizon.
  const horizon = Math.round(height * (0.35 + rand() * 0.2));
  const outdoor = rand() < 0.7;
  const upperId = newId(outdoor ? "sky" : "wall", false);
  const groundName: CategoryName = rand() < 0.5 ? "grass" : "pavement";
  const groundId = newId(groundName, false);
  const skyTop: Rgb = outdoor ? [95, 150, 220] : [185, 175, 155];
  const skyLow: Rgb = outdoor ? [185, 210, 240] : [160, 150, 135];
  const ground: Rgb = groundName === "grass" ? [75, 140, 55] : [135, 133, 128];
  paint(
    { x0: 0, y0: 0, x1: width, y1: horizon - 1, inside: () => true, colour: (_x, y) => mix(skyTop, skyLow, y / horizon) },
    upperId,
  );
  paint(
    {
      x0: 0,
      y0: horizon,
      x1: width,
      y1: height,
      inside: () => true,
      colour: (_x, y) => shade(ground, 0.85 + (0.3 * (y - horizon)) / (height - horizon)),
    },
    groundId,
  );
  if (outdoor && rand() < 0.6) {
    // A line of tree crowns on the horizon: one stuff segment made of several blobs.
    const treeId = newId("tree", false);
    const crowns = 2 + Math.floor(rand() * 3);
    for (let c = 0; c < crowns; c++) {
      const r = height * (0.08 + rand() * 0.07);
      paint(ellipse(rand() * width, horizon - r * 0.6, r * 1.2, r, [45, 95, 40]), treeId);
    }
  }

  // Things, far to near so nearer instances occlude farther ones, larger as they come closer.
  const count = 3 + Math.floor(rand() * 4);
  const things = Array.from({ length: count }, () => ({
    kind: pick(rand, THINGS),
    x: width * (0.1 + rand() * 0.8),
    footY: horizon + (height - horizon) * (0.15 + rand() * 0.8),
  })).sort((p, q) => p.footY - q.footY);
  for (const t of things) {
    const depth = (t.footY - horizon) / (height - horizon);
    const size = height * (0.15 + 0.35 * depth) * (t.kind === "person" ? 1.3 : 1);
    const id = newId(t.kind, true);
    for (const part of thingParts(t.kind, t.x, t.footY, size, rand)) paint(part, id);
  }

  // Sensor-like noise so the image is not flat colour.
  const image = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const grain = (rand() - 0.5) * 14;
    for (let c = 0; c < 3; c++) {
      const v = rgb[i * 3 + c] + grain + (rand() - 0.5) * 4;
      image[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }

  const map = { width, height, ids };
  const segmentsInfo: SegmentInfo[] = measureSegments(map).map((m) => ({
    id: m.id,
    category_id: categoryOf.get(m.id)!,
    iscrowd: 0,
    bbox: m.bbox,
    area: m.area,
  }));
  return {
    fileName: `synthetic_${String(seed >>> 0).padStart(6, "0")}.png`,
    image: encodePngLib({ width, height, data: image, channels: 3, depth: 8 }),
    panoptic: encodePanoptic(map),
    segmentsInfo,
  };
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}
