import { describe, expect, it } from "vitest";
import { DESCRIBE_PROMPT, describeMessages, MERGE_PROMPT, mergeMessages, promptKey, ROUND1_PROMPT, round1Messages } from "../../worker/vlm/prompts.ts";

const marks = [
  { number: 3, category: "dog", isthing: true },
  { number: 1, category: "sky-other-merged", isthing: false },
  { number: 12, category: "person", isthing: true },
];

const regions = [
  { number: 3, category: "dog", isthing: true, text: 'A brown dog,\n  "Rex", sitting.' },
  { number: 1, category: "sky-other-merged", isthing: false, text: "A pale blue sky." },
];

async function sha256(s: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("round-1 prompt", () => {
  it("is deterministic whatever the order of the marks", () => {
    const a = round1Messages(marks);
    const b = round1Messages([...marks].reverse());
    expect(a).toEqual(b);
    expect(a.system).toBe(ROUND1_PROMPT.system);
  });

  it("lists every mark once, in order, with its category and kind, and asks for strict JSON", () => {
    const { prompt } = round1Messages(marks);
    const lines = prompt.split("\n").filter((l) => l.startsWith("- mark "));
    expect(lines).toEqual(["- mark 1: sky-other-merged (stuff)", "- mark 3: dog (thing)", "- mark 12: person (thing)"]);
    expect(prompt).toContain("Marked regions:");
    expect(prompt).toContain("JSON object");
    expect(prompt).toContain('{"1": "…", "3": "…", …}');
    expect(prompt).toMatch(/background/);
    expect(prompt).toMatch(/set-of-marks/);
  });

  it("refuses an empty or inconsistent mark list", () => {
    expect(() => round1Messages([])).toThrow(/at least one mark/);
    expect(() => round1Messages([marks[0], marks[0]])).toThrow(/listed twice/);
    expect(() => round1Messages([{ number: 0, category: "x", isthing: true }])).toThrow(/positive integer/);
  });
});

describe("merge prompt", () => {
  it("is deterministic and lists every region with its text as a JSON string on one line", () => {
    const { system, prompt } = mergeMessages(regions);
    expect(mergeMessages([...regions].reverse())).toEqual({ system, prompt });
    const lines = prompt.split("\n").filter((l) => l.startsWith("- mark "));
    expect(lines).toEqual(['- mark 1: sky-other-merged (stuff): "A pale blue sky."', '- mark 3: dog (thing): "A brown dog, \\"Rex\\", sitting."']);
    expect(prompt).toContain("<N:phrase>");
    expect(prompt).toContain("<N,M:phrase>");
    expect(prompt).toContain("background");
    expect(prompt).toContain("caption only");
  });

  it("omits the kind when it is not given", () => {
    const { prompt } = mergeMessages([{ number: 2, category: "tree", text: "A tree." }]);
    expect(prompt).toContain('- mark 2: tree: "A tree."');
  });
});

describe("versions", () => {
  it("has stable ids and versions", () => {
    expect(promptKey(ROUND1_PROMPT)).toBe("pancap-round1@v1");
    expect(promptKey(MERGE_PROMPT)).toBe("pancap-merge@v1");
    expect(promptKey(DESCRIBE_PROMPT)).toBe("study-describe@v1");
  });

  // These fingerprints pin the text of each template version. If this test fails you changed a
  // prompt's text: BUMP ITS VERSION (drafts are cached by id@version), then update the fingerprint.
  it("text has not changed without a version bump", async () => {
    const r1 = round1Messages(marks);
    const m = mergeMessages(regions);
    const d = describeMessages();
    const fingerprints = {
      [promptKey(DESCRIBE_PROMPT)]: await sha256(d.system + "\u0000" + d.prompt),
      [promptKey(ROUND1_PROMPT)]: await sha256(r1.system + "\u0000" + r1.prompt),
      [promptKey(MERGE_PROMPT)]: await sha256(m.system + "\u0000" + m.prompt),
    };
    expect(fingerprints).toEqual({
      "pancap-round1@v1": "a807e8778a9268398a9d996f79b3c51d5bb2cebce9a419e153205744a2b245a3",
      "pancap-merge@v1": "ea3f230fe531d30c2459b399469f7afae615c7c7aca401a51794cbe0c56de0e3",
      "study-describe@v1": "df10892acb34ef714ffc40ff471fd406ee4bfc1134e2fdfacc4ea728345c7bc3",
    });
  });
});
