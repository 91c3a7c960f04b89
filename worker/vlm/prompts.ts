/**
 * Versioned prompt templates. They live in code, not in the database, and `id@version` is part of
 * every draft's cache key: NEVER change a template's text (system or rendered prompt) without
 * bumping its `version`. `test/vlm/prompts.test.ts` pins a fingerprint of each template's text so
 * that an unbumped change fails the tests.
 *
 * The rendered text is deterministic: marks are listed in ascending mark number whatever the
 * order given, whitespace inside category names and region texts is collapsed.
 *
 * Shape of the rendered prompts (the mock VLM in scripts/mock-vlm.ts reads these lines):
 *
 *   round 1                                  merge
 *   Marked regions:                          Region descriptions:
 *   - mark 1: sky (stuff)                    - mark 1: sky (stuff): "A pale blue sky…"
 *   - mark 3: person (thing)                 - mark 3: person (thing): "A man in…"
 *
 * (region texts are JSON string literals, so quotes and newlines in them are unambiguous).
 */

export interface PromptTemplate<Input> {
  /** Stable name, part of the cache key. */
  readonly id: string;
  /** Bumped on ANY change of `system` or of what `render` produces. */
  readonly version: number;
  readonly system: string;
  render(input: Input): string;
}

export interface PromptMessages {
  system: string;
  prompt: string;
}

/** A mark of the set-of-marks image, as round 1 needs it. */
export interface Round1Mark {
  number: number;
  category: string;
  isthing: boolean;
}

/** A region with its final (edited, consolidated) text, as the merge needs it. */
export interface MergeRegion {
  number: number;
  category: string;
  text: string;
  /** Printed as "(thing)"/"(stuff)" when given, so the model can put background first. */
  isthing?: boolean;
}

/** `id@vN`: the form to put in cache keys and on draft records. */
export function promptKey(template: { id: string; version: number }): string {
  return `${template.id}@v${template.version}`;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

function sortedUnique<T extends { number: number }>(items: readonly T[], what: string): T[] {
  if (items.length === 0) throw new Error(`${what}: at least one mark is needed`);
  const seen = new Set<number>();
  for (const item of items) {
    if (!Number.isSafeInteger(item.number) || item.number < 1) throw new Error(`${what}: mark number ${item.number} is not a positive integer`);
    if (seen.has(item.number)) throw new Error(`${what}: mark ${item.number} is listed twice`);
    seen.add(item.number);
  }
  return [...items].sort((a, b) => a.number - b.number);
}

const kind = (isthing: boolean) => (isthing ? "thing" : "stuff");

const SOM_INTRO =
  "The image is a set-of-marks image: every region of its panoptic segmentation is drawn with a " +
  "translucent colour fill and a contour, and carries a number (its mark) drawn at a point inside it.";

export const ROUND1_PROMPT: PromptTemplate<readonly Round1Mark[]> = {
  id: "pancap-round1",
  version: 1,
  system:
    "You are an expert image annotator. You write accurate, detailed descriptions of image regions " +
    "for a dataset of densely grounded captions. You describe only what is visible, and you answer " +
    "in exactly the format asked for.",
  render(marks) {
    const list = sortedUnique(marks, "round-1 prompt");
    const lines = list.map((m) => `- mark ${m.number}: ${oneLine(m.category)} (${kind(m.isthing)})`);
    const example = `{${list
      .slice(0, 2)
      .map((m) => `"${m.number}": "…"`)
      .join(", ")}${list.length > 2 ? ", …" : ""}}`;
    return [
      SOM_INTRO,
      "",
      "Describe each marked region listed below in detail, one description per mark.",
      "For an object (thing): its appearance, colour, material or texture, pose or action, its position in the image and its relation to the neighbouring regions.",
      "For a background region (stuff): describe it as background: its extent, colour, texture and where it lies in the image.",
      "The category names are hints from the annotation and may be imprecise: trust the image. Describe the region itself; do not mention its mark number or the overlay colour.",
      "",
      "Marked regions:",
      ...lines,
      "",
      `Answer with one JSON object and nothing else: its keys are the mark numbers as strings, its values the descriptions. Every listed mark appears exactly once; no other keys. Shape: ${example}`,
    ].join("\n");
  },
};

export const MERGE_PROMPT: PromptTemplate<readonly MergeRegion[]> = {
  id: "pancap-merge",
  version: 1,
  system:
    "You are an expert image annotator. You write a single detailed, fluent caption of an image in " +
    "which every phrase that refers to a marked region is tagged with that region's mark number.",
  render(regions) {
    const list = sortedUnique(regions, "merge prompt");
    const lines = list.map(
      (r) => `- mark ${r.number}: ${oneLine(r.category)}${r.isthing === undefined ? "" : ` (${kind(r.isthing)})`}: ${JSON.stringify(oneLine(r.text))}`,
    );
    return [
      SOM_INTRO,
      "",
      "Region descriptions:",
      ...lines,
      "",
      "Using these descriptions and the image, write ONE detailed caption of the whole image in flowing prose: describe the background (stuff regions) first, then the objects (things), and the spatial relations between them.",
      'Tag every noun phrase that refers to a marked region inline as <N:phrase>, where N is its mark number, or <N,M:phrase> when one phrase refers to several regions; for example: "<1:A sandy beach> stretches under <2:a clear sky>; <4:a man in a red jacket> walks <5,6:two dogs> along the water."',
      "Use only the mark numbers listed above, do not nest tags, and write any other literal < or > as \\< or \\>.",
      "Answer with the caption only: no title, no list, no explanation.",
    ].join("\n");
  },
};

export function round1Messages(marks: readonly Round1Mark[]): PromptMessages {
  return { system: ROUND1_PROMPT.system, prompt: ROUND1_PROMPT.render(marks) };
}

export function mergeMessages(regions: readonly MergeRegion[]): PromptMessages {
  return { system: MERGE_PROMPT.system, prompt: MERGE_PROMPT.render(regions) };
}

/**
 * A detailed caption of the whole image, for a study's `vlm:<name>` source: the kind of caption a
 * study compares the dataset's finals with (COCONut-PanCap compared GPT-4V's this way).
 */
export const DESCRIBE_PROMPT: PromptTemplate<null> = {
  id: "study-describe",
  version: 1,
  system: "You are an expert image annotator. You describe images accurately and in detail, mentioning only what is visible.",
  render() {
    return [
      "Describe this image in detail, in one paragraph of flowing prose.",
      "Cover the background and setting first, then every notable object: its appearance, colour, material, pose or action, position in the image, and its relations to the other objects.",
      "Do not speculate about what is not visible. Answer with the description only: no title, no list, no preamble.",
    ].join("\n");
  },
};

export function describeMessages(): PromptMessages {
  return { system: DESCRIBE_PROMPT.system, prompt: DESCRIBE_PROMPT.render(null) };
}
