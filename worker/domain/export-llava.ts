/**
 * LLaVA conversation export of a final grounded caption (GLaMM-style grounding markers).
 *
 *     { id, image, conversations: [{ from: "human", value: LLAVA_PROMPT },
 *                                  { from: "gpt", value: "A <p> man </p> [SEG] walks <p> two dogs </p> [SEG]." }],
 *       seg_group_ids: [[3], [5, 6]] }
 *
 * The answer is the caption text verbatim, except that each span's phrase is written
 * `<p> phrase </p> [SEG]`; `seg_group_ids[k]` holds the segment ids of the k-th span, i.e. of the
 * k-th `[SEG]` (a phrase over several segments is one `[SEG]` whose masks are unioned or kept apart
 * by the training code: the ids stay separate here). Removing every `<p> ` and ` </p> [SEG]` gives
 * the text back (`llavaText`), and `fromLlava` gives the grounded caption back, exactly, as long
 * as the caption's own text contains none of the markers (`<p> `, ` </p> [SEG]`), which a caption
 * never needs.
 *
 * `id` is Groundwork's image id (unique in the project); `image` the dataset file name.
 *
 * Pure: no I/O, runs anywhere.
 */
import { codePointLength, validateCaption } from "./grounded-caption.ts";
import type { GroundedCaption, GroundedSpan } from "./grounded-caption.ts";
import { ExportError, assertFinalImage, spanPhrases } from "./exports.ts";
import type { FinalImage } from "./exports.ts";

/** The human turn of every conversation. */
export const LLAVA_PROMPT = "<image>\nPlease describe the image in detail, grounding each object you mention.";

const OPEN = "<p> ";
const CLOSE = " </p> [SEG]";

export interface LlavaRecord {
  id: string;
  image: string;
  conversations: [{ from: "human"; value: string }, { from: "gpt"; value: string }];
  /** Segment ids of each `[SEG]` of the answer, in order. */
  seg_group_ids: number[][];
}

/** The LLaVA conversation line of one image. */
export function toLlava(fi: FinalImage): LlavaRecord {
  assertFinalImage(fi);
  const { text, spans } = fi.caption;
  const phrases = spanPhrases(fi.caption);
  // Walk the text once: the pieces between spans are copied verbatim.
  const chars = Array.from(text);
  let value = "";
  let at = 0;
  spans.forEach((span, k) => {
    value += chars.slice(at, span.start).join("") + OPEN + phrases[k] + CLOSE;
    at = span.end;
  });
  value += chars.slice(at).join("");
  return {
    id: fi.image.id,
    image: fi.image.file_name,
    conversations: [
      { from: "human", value: LLAVA_PROMPT },
      { from: "gpt", value },
    ],
    seg_group_ids: spans.map((s) => [...s.segment_ids]),
  };
}

/** The answer with its markers removed: the caption text. */
export function llavaText(value: string): string {
  return fromLlavaValue(value).text;
}

function fromLlavaValue(value: string): { text: string; spans: { start: number; end: number }[] } {
  let text = "";
  let length = 0; // code points of `text`
  const spans: { start: number; end: number }[] = [];
  let at = 0;
  for (;;) {
    const open = value.indexOf(OPEN, at);
    if (open < 0) break;
    const close = value.indexOf(CLOSE, open + OPEN.length);
    if (close < 0) break;
    const before = value.slice(at, open);
    const phrase = value.slice(open + OPEN.length, close);
    text += before;
    length += codePointLength(before);
    const start = length;
    text += phrase;
    length += codePointLength(phrase);
    spans.push({ start, end: length });
    at = close + CLOSE.length;
  }
  text += value.slice(at);
  return { text, spans };
}

/**
 * The grounded caption of a LLaVA line (the inverse of `toLlava`). Throws `ExportError` when the
 * number of `[SEG]` groups and of `seg_group_ids` differ or the result is not a valid caption.
 */
export function fromLlava(record: Pick<LlavaRecord, "conversations" | "seg_group_ids">): GroundedCaption {
  const answer = record.conversations.find((c) => c.from === "gpt");
  if (answer === undefined) throw new ExportError("not a LLaVA grounded caption", [{ path: "conversations", message: "no gpt turn" }]);
  const { text, spans } = fromLlavaValue(answer.value);
  if (spans.length !== record.seg_group_ids.length) {
    throw new ExportError("not a LLaVA grounded caption", [
      { path: "seg_group_ids", message: `the answer has ${spans.length} grounded phrases but seg_group_ids has ${record.seg_group_ids.length} groups` },
    ]);
  }
  const caption: GroundedCaption = {
    text,
    spans: spans.map((s, k): GroundedSpan => ({ start: s.start, end: s.end, segment_ids: [...record.seg_group_ids[k]] })),
  };
  const problems = validateCaption(caption);
  if (problems.length > 0) throw new ExportError("not a valid grounded caption", problems.map((p) => ({ path: p.path, message: p.message })));
  return caption;
}
