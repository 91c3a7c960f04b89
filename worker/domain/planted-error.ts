import { seededRandom } from "./random.ts";

/**
 * One factual error planted in a copy of a caption, for gold pairs whose right answer is the
 * original: a voter who prefers the corrupted copy was not reading. Seeded, so the same caption and
 * seed give the same corruption when a pair is shown again or audited.
 */

export type PlantedKind = "colour" | "number" | "side" | "object" | "drop-sentence";

export interface PlantedError {
  text: string;
  change: { kind: PlantedKind; from: string; to: string };
}

// Orange is left out: it is also a fruit (a COCO thing), and "a blue on the plate" would give the game away.
const COLOURS = ["red", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "silver", "beige"];
const COLOUR_ALIASES: Record<string, string> = { grey: "gray" };

// Plural counts stay plural ("two dogs" → "five dogs"), so the grammar does not give the error away.
const NUMBER_WORDS: Record<string, string> = {
  one: "three",
  two: "five",
  three: "six",
  four: "seven",
  five: "eight",
  six: "nine",
  seven: "ten",
  eight: "five",
  nine: "six",
  ten: "seven",
};

const SIDES: [string, string][] = [
  ["left", "right"],
  ["above", "below"],
  ["top", "bottom"],
  // As a phrase: "in behind of the car" would read as a typo, not as a wrong fact.
  ["in front of", "behind"],
  ["inside", "outside"],
];

// Swaps between COCO thing classes a caption plausibly confuses, singular with singular and plural with plural.
const OBJECTS: [string, string][] = [
  ["man", "woman"],
  ["men", "women"],
  ["boy", "girl"],
  ["boys", "girls"],
  ["person", "child"],
  ["people", "children"],
  ["dog", "cat"],
  ["dogs", "cats"],
  ["car", "bus"],
  ["cars", "buses"],
  ["chair", "table"],
  ["chairs", "tables"],
  ["horse", "cow"],
  ["horses", "cows"],
  ["elephant", "giraffe"],
  ["elephants", "giraffes"],
  ["bicycle", "motorcycle"],
  ["bicycles", "motorcycles"],
  ["truck", "train"],
  ["trucks", "trains"],
  ["boat", "airplane"],
  ["boats", "airplanes"],
  ["cup", "bottle"],
  ["cups", "bottles"],
  ["fork", "knife"],
  ["forks", "knives"],
  ["banana", "apple"],
  ["bananas", "apples"],
  ["couch", "bed"],
  ["couches", "beds"],
  ["umbrella", "kite"],
  ["umbrellas", "kites"],
];

function swaps(pairs: [string, string][]): Map<string, string> {
  return new Map(pairs.flatMap(([x, y]) => [[x, y], [y, x]] as [string, string][]));
}

const SIDE_SWAPS = swaps(SIDES);
const OBJECT_SWAPS = swaps(OBJECTS);

interface Match {
  index: number;
  word: string;
}

/** Whole words only: a letter or digit on either side means it is part of another word ("reddish", "bored", "1920s"). */
function findWords(text: string, words: Iterable<string>): Match[] {
  const alternatives = [...words].sort((x, y) => y.length - x.length).map((w) => w.replace(/ /g, "\\s+"));
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join("|")})(?![\\p{L}\\p{N}])`, "giu");
  return [...text.matchAll(re)].map((m) => ({ index: m.index, word: m[0] }));
}

const DIGITS = /(?<![\p{L}\p{N}])[0-9]+(?![\p{L}\p{N}])/gu;

function matchCase(original: string, replacement: string): string {
  const letters = original.replace(/[^\p{L}]/gu, "");
  if (letters.length > 1 && letters === letters.toUpperCase() && letters !== letters.toLowerCase()) return replacement.toUpperCase();
  if (original[0] !== original[0].toLowerCase()) return replacement[0].toUpperCase() + replacement.slice(1);
  return replacement;
}

type Attempt = (text: string, random: () => number) => PlantedError | null;

function replaceOne(text: string, kind: PlantedKind, matches: Match[], random: () => number, to: (word: string) => string): PlantedError | null {
  if (matches.length === 0) return null;
  const m = matches[Math.floor(random() * matches.length)];
  const replacement = matchCase(m.word, to(m.word.toLowerCase().replace(/\s+/g, " ")));
  return { text: text.slice(0, m.index) + replacement + text.slice(m.index + m.word.length), change: { kind, from: m.word, to: replacement } };
}

const colour: Attempt = (text, random) =>
  replaceOne(text, "colour", findWords(text, [...COLOURS, ...Object.keys(COLOUR_ALIASES)]), random, (word) => {
    const others = COLOURS.filter((c) => c !== (COLOUR_ALIASES[word] ?? word));
    return others[Math.floor(random() * others.length)];
  });

const number: Attempt = (text, random) => {
  const words = findWords(text, Object.keys(NUMBER_WORDS));
  const digits = [...text.matchAll(DIGITS)].map((m) => ({ index: m.index, word: m[0] }));
  const matches = [...words, ...digits].sort((x, y) => x.index - y.index);
  return replaceOne(text, "number", matches, random, (word) => NUMBER_WORDS[word] ?? addTwo(word));
};

/** A leading zero keeps the width ("07" → "09"); BigInt, so a long run of digits cannot round. */
function addTwo(digits: string): string {
  return (BigInt(digits) + 2n).toString().padStart(digits.length, "0");
}

const side: Attempt = (text, random) => replaceOne(text, "side", findWords(text, SIDE_SWAPS.keys()), random, (word) => SIDE_SWAPS.get(word)!);

const object: Attempt = (text, random) => replaceOne(text, "object", findWords(text, OBJECT_SWAPS.keys()), random, (word) => OBJECT_SWAPS.get(word)!);

/** Sentences end at . ! or ? (and any closing quotes or brackets) followed by white space or the end. */
function sentences(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let start = 0;
  for (const m of text.matchAll(/[.!?]+["')\]»”’]*(?:\s+|$)/gu)) {
    const end = m.index + m[0].length;
    if (/[\p{L}\p{N}]/u.test(text.slice(start, end))) out.push({ start, end });
    start = end;
  }
  if (/[\p{L}\p{N}]/u.test(text.slice(start))) out.push({ start, end: text.length });
  return out;
}

function dropSentence(text: string, random: () => number): PlantedError | null {
  const all = sentences(text);
  if (all.length < 2) return null;
  const pick = Math.floor(random() * all.length);
  const { start, end } = all[pick];
  let out = text.slice(0, start) + text.slice(end);
  // Dropping the last sentence leaves the one before it with its separating space: keep the original ending instead.
  if (pick === all.length - 1) out = out.trimEnd() + text.slice(text.trimEnd().length);
  return { text: out, change: { kind: "drop-sentence", from: text.slice(start, end).trim(), to: "" } };
}

/**
 * Plants one error: the word-level kinds in a seeded order, the first that finds something to
 * change, and dropping a sentence only when none does (it is the easiest error to miss). null when
 * nothing applies.
 */
export function plantError(text: string, seed: number): PlantedError | null {
  const random = seededRandom(seed);
  const attempts = [colour, number, side, object];
  for (let i = attempts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [attempts[i], attempts[j]] = [attempts[j], attempts[i]];
  }
  for (const attempt of [...attempts, dropSentence]) {
    const planted = attempt(text, random);
    if (planted && planted.text !== text) return planted;
  }
  return null;
}
