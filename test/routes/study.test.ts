import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../../worker/domain/csv.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { mockTenant } from "../support/mock-vlm.ts";
import { ingestScene, until } from "../support/scenes.ts";

/**
 * A whole study through the API: captions of three sources (finals, an uploaded caption set, a
 * model's captions made through the mock VLM), planted gold pairs, three voters with known
 * preferences (the third always picks the left caption and answers fast), one of them excluded,
 * and results checked against figures this test works out from its own votes.
 */
const mock = mockTenant("study");
const PROJECT = "study-proj";
const SCENES = [11, 12, 13, 14, 15, 16];
const lead = () => tokenFor("lead", [PROJECT], "study-lead");

let imageIds: string[] = [];
const finalText = (i: number) => `Scene ${i}: a red car is parked on the left beside two people, and a white dog sleeps under a green tree.`;
const importText = (i: number) => `Picture ${i} shows a street with a car and some people near a tree.`;
let studyId = "";

/** Which source a caption text is, as a voter that knows them would tell. */
function sourceOf(text: string): "final" | "import:gpt4v" | "vlm:mock" | "planted" {
  if (text.startsWith("A detailed photograph")) return "vlm:mock";
  if (text.startsWith("Picture ")) return "import:gpt4v";
  const i = Number(/^Scene (\d+):/.exec(text)?.[1]);
  return text === finalText(i) ? "final" : "planted";
}

type Choice = "A" | "B" | "tie";
/** voter-1: final > import > vlm. voter-2: final > vlm > import, and final ties with vlm. voter-3: always A. */
const policies: Record<string, (a: string, b: string) => Choice> = {
  "voter-1": (a, b) => {
    const rank = { final: 0, planted: 1, "import:gpt4v": 2, "vlm:mock": 3 };
    return rank[sourceOf(a)] < rank[sourceOf(b)] ? "A" : "B";
  },
  "voter-2": (a, b) => {
    const [sa, sb] = [sourceOf(a), sourceOf(b)];
    if ((sa === "final" && sb === "vlm:mock") || (sa === "vlm:mock" && sb === "final")) return "tie";
    const rank = { final: 0, planted: 1, "vlm:mock": 2, "import:gpt4v": 3 };
    return rank[sa] < rank[sb] ? "A" : "B";
  },
  "voter-3": () => "A",
};

interface Cast {
  voter: string;
  image: string;
  left: string;
  right: string;
  choice: Choice;
}
const cast: Cast[] = [];

async function voteUntilDone(voter: string) {
  const token = await tokenFor("voter", [PROJECT], voter);
  for (let n = 0; n < 200; n++) {
    const next = await call("POST", `/v1/studies/${studyId}/ballots/next`, { token });
    if (next.status === 204) return token;
    expect(next.status).toBe(200);
    const b = next.data;
    const choice = policies[voter](b.A.text, b.B.text);
    const reasons = choice === "A" ? { B: ["missed_object"] } : choice === "B" ? { A: ["hallucination"] } : undefined;
    const res = await call("POST", `/v1/ballots/${b.ballot_id}/vote`, {
      token,
      json: { lease_token: b.lease_token, choice, reasons, active_ms: voter === "voter-3" ? 500 : 5000 },
      headers: { "idempotency-key": `${voter}-${b.ballot_id}` },
    });
    expect(res.status, JSON.stringify(res.data)).toBe(201);
    cast.push({ voter, image: b.image.id, left: sourceOf(b.A.text), right: sourceOf(b.B.text), choice });
  }
  throw new Error(`${voter} never ran out of ballots`);
}

beforeAll(async () => {
  const token = await lead();
  await createProject(token, { id: PROJECT });
  for (const seed of SCENES) imageIds.push((await ingestScene(token, PROJECT, seed)).id);
  // Final captions written straight into D1: the rounds that make a caption final are tested in pipeline.test.ts.
  const now = Date.now();
  await env.DB.batch(
    imageIds.map((id, i) =>
      env.DB.prepare(
        `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, draft_key, region_versions, coverage, stats, effort, stale, updated_at)
         VALUES (?, ?, 1, ?, '[]', ?, NULL, '{}', '{}', '{}', '{}', 0, ?)`,
      ).bind(id, PROJECT, finalText(i), `sub_study_${i}`, now),
    ),
  );
});

describe("caption sets", () => {
  const upload = async (body: string) =>
    call("PUT", `/v1/projects/${PROJECT}/caption-sets/gpt4v`, { token: await lead(), body, headers: { "content-type": "application/x-ndjson" } });

  it("refuses an upload with a bad line, naming it, and stores nothing of it", async () => {
    const lines = [
      JSON.stringify({ external_id: "scene-11", text: "first" }),
      "",
      JSON.stringify({ external_id: "scene-12" }),
      JSON.stringify({ external_id: "scene-999", text: "no such image" }),
      "{not json",
    ].join("\n");
    const r = await upload(lines);
    expect(r.status).toBe(400);
    expect(r.res.headers.get("content-type")).toContain("application/problem+json");
    expect(r.data.errors.map((e: { path: string }) => e.path)).toEqual(["line 3.text", "line 4.external_id", "line 5"]);
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM imported_captions WHERE project_id = ?").bind(PROJECT).first<{ n: number }>();
    expect(stored!.n).toBe(0);
  });

  it("stores a good upload, by external id and by image id", async () => {
    const lines = SCENES.map((seed, i) => JSON.stringify(i % 2 ? { image_id: imageIds[i], text: importText(i) } : { external_id: `scene-${seed}`, text: importText(i) }));
    const r = await upload(lines.join("\n") + "\n");
    expect(r.status, JSON.stringify(r.data)).toBe(200);
    expect(r.data).toMatchObject({ name: "gpt4v", source: "import:gpt4v", lines: 6 });
    const listed = await call("GET", `/v1/projects/${PROJECT}/caption-sets`, { token: await lead() });
    expect(listed.data.items.map((s: { name: string; lines: number }) => [s.name, s.lines])).toEqual([["gpt4v", 6]]);
  });
});

describe("a whole study", () => {
  it("is designed as a draft, and its model captions are made through the VLM queue", async () => {
    const r = await call("POST", `/v1/projects/${PROJECT}/studies`, {
      token: await lead(),
      json: {
        name: "Finals against GPT-4V and a VLM",
        question: "Which caption describes the image better?",
        design: {
          sources: ["final", "import:gpt4v", "vlm:mock"],
          vlm: { mock: { provider: "openai", baseUrl: mock.baseUrl, model: "mock-describe", timeoutMs: 5000 } },
          votesPerPair: 3,
          allowTies: true,
          reasons: ["hallucination", "missed_object"],
          gold: { planted: { count: 2, from: "final" }, share: 0.25 },
          flipShare: 0.5,
          qc: { maxGoldFailShare: 0.34, minGoldVotes: 2, minMedianSeconds: 2 },
          seed: 1234,
        },
      },
    });
    expect(r.status, JSON.stringify(r.data)).toBe(201);
    studyId = r.data.id;
    expect(r.data.status).toBe("draft");
    const ready = await until("the model's captions", async () => {
      const s = await call("GET", `/v1/studies/${studyId}`, { token: await lead() });
      const vlm = s.data.readiness.find((x: { source: string }) => x.source === "vlm:mock");
      return vlm.images === SCENES.length && s.data;
    }, 50_000);
    expect(ready.readiness).toEqual([
      { source: "final", images: 6 },
      { source: "import:gpt4v", images: 6 },
      { source: "vlm:mock", images: 6, drafts: { ready: 6 } },
    ]);
    expect((await mock.stats()).last?.prompt).toMatch(/^Describe this image in detail/);
  }, 60_000);

  it("opens with a frozen plan: every source pair on every image, k ballots each, planted gold", async () => {
    const voter = await tokenFor("voter", [PROJECT], "voter-1");
    const early = await call("POST", `/v1/studies/${studyId}/ballots/next`, { token: voter });
    expect(early.status).toBe(409);
    const r = await call("POST", `/v1/studies/${studyId}/open`, { token: await lead() });
    expect(r.status, JSON.stringify(r.data)).toBe(200);
    expect(r.data.plan).toEqual({ images: 6, pairs: 18, gold_pairs: 2, ballots: 54, planted_skipped: 0 });
    const pairs = await call("GET", `/v1/studies/${studyId}/pairs?limit=200`, { token: await lead() });
    const regular = pairs.data.items.filter((p: { kind: string }) => p.kind === "pair");
    const kinds = new Map<string, number>();
    for (const p of regular) kinds.set(`${p.a}|${p.b}`, (kinds.get(`${p.a}|${p.b}`) ?? 0) + 1);
    expect(Object.fromEntries(kinds)).toEqual({ "final|import:gpt4v": 6, "final|vlm:mock": 6, "import:gpt4v|vlm:mock": 6 });
    const gold = pairs.data.items.filter((p: { kind: string }) => p.kind === "gold");
    expect(gold.map((g: { a: string; b: string; gold_answer: string }) => [g.a, g.b, g.gold_answer])).toEqual([
      ["final", "planted:final", "final"],
      ["final", "planted:final", "final"],
    ]);
    const again = await call("POST", `/v1/studies/${studyId}/open`, { token: await lead() });
    expect(again.status).toBe(409);
  });

  it("a voter cannot see another's ballot, vote twice, or tick a reason the study does not have", async () => {
    // voter-0 looks and hands back: it never sees that pair again, so it takes no part in the votes below.
    const one = await tokenFor("voter", [PROJECT], "voter-0");
    const other = await tokenFor("voter", [PROJECT], "voter-x");
    const b = (await call("POST", `/v1/studies/${studyId}/ballots/next`, { token: one })).data;
    expect(Object.keys(b).sort()).toEqual(["A", "B", "allow_ties", "ballot_id", "image", "lease_token", "lease_expires_at", "progress", "question", "reasons", "study_id"].sort());
    const same = (await call("POST", `/v1/studies/${studyId}/ballots/next`, { token: one })).data;
    expect(same.ballot_id).toBe(b.ballot_id);
    const stolen = await call("POST", `/v1/ballots/${b.ballot_id}/vote`, { token: other, json: { lease_token: b.lease_token, choice: "A" }, headers: { "idempotency-key": "steal" } });
    expect(stolen.status).toBe(404);
    const badReason = await call("POST", `/v1/ballots/${b.ballot_id}/vote`, { token: one, json: { lease_token: b.lease_token, choice: "A", reasons: { B: ["typo"] } }, headers: { "idempotency-key": "bad" } });
    expect(badReason.status).toBe(400);
    expect(badReason.data.errors[0].path).toBe("body.reasons.B[0]");
    const noKey = await call("POST", `/v1/ballots/${b.ballot_id}/vote`, { token: one, json: { lease_token: b.lease_token, choice: "A" } });
    expect(noKey.status).toBe(400);
    const votes = await env.DB.prepare("SELECT COUNT(*) AS n FROM votes WHERE study_id = ?").bind(studyId).first<{ n: number }>();
    expect(votes!.n).toBe(0);
    // Hand it back so the policy below votes on it.
    const released = await call("POST", `/v1/ballots/${b.ballot_id}/release`, { token: one, json: { lease_token: b.lease_token } });
    expect(released.status).toBe(200);
  });

  it("hands every pair to exactly k voters, counterbalanced, and a retried vote is recorded once", async () => {
    await voteUntilDone("voter-2");
    await voteUntilDone("voter-3");
    const v1 = await voteUntilDone("voter-1");
    const rows = await env.DB.prepare("SELECT pair_id, COUNT(*) AS n, COUNT(DISTINCT voter) AS voters FROM votes WHERE study_id = ? AND kind = 'pair' GROUP BY pair_id").bind(studyId).all<{ n: number; voters: number }>();
    expect(rows.results.length).toBe(18);
    expect(rows.results.every((r) => r.n === 3 && r.voters === 3)).toBe(true);
    // Counterbalanced: voter-3 (always A) saw each source of each source pair on the left in half of its 6 ballots of it.
    const v3 = cast.filter((c) => c.voter === "voter-3" && c.left !== "planted" && c.right !== "planted");
    for (const [x, y] of [["final", "import:gpt4v"], ["final", "vlm:mock"], ["import:gpt4v", "vlm:mock"]]) {
      const shown = v3.filter((c) => (c.left === x && c.right === y) || (c.left === y && c.right === x));
      // Its repeats show the other side; of its 6 first ballots of the pair, 3 had x on the left.
      const firsts = shown.filter((c, i) => shown.findIndex((d) => d.image === c.image) === i);
      expect(firsts.length).toBe(6);
      expect(firsts.filter((c) => c.left === x).length, `${x} vs ${y}`).toBe(3);
    }
    // A retry of the last vote with its key: the first answer, nothing recorded twice.
    const last = await env.DB.prepare("SELECT ballot_id FROM votes WHERE voter = 'voter-1' ORDER BY id DESC LIMIT 1").first<{ ballot_id: string }>();
    const before = await env.DB.prepare("SELECT COUNT(*) AS n FROM votes").first<{ n: number }>();
    const retry = await call("POST", `/v1/ballots/${last!.ballot_id}/vote`, { token: v1, json: { lease_token: "x", choice: "A" }, headers: { "idempotency-key": `voter-1-${last!.ballot_id}` } });
    expect(retry.status).toBe(409); // a different body under the same key is refused, not answered with the first
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM votes").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });

  it("computes results that match the votes, with and without the excluded voter", async () => {
    const excluded = await call("POST", `/v1/studies/${studyId}/exclusions`, { token: await lead(), json: { voter: "voter-3", reason: "always picks the left caption" } });
    expect(excluded.status).toBe(200);
    expect(excluded.data).toMatchObject({ voter: "voter-3", excluded: true, excluded_reason: "always picks the left caption" });
    const record = await env.DB.prepare("SELECT action, reason, subject FROM voter_exclusions WHERE study_id = ?").bind(studyId).all();
    expect(record.results).toEqual([{ action: "exclude", reason: "always picks the left caption", subject: "study-lead" }]);

    const decisive = await call("GET", `/v1/studies/${studyId}/results?resamples=200`, { token: await lead() });
    expect(decisive.status).toBe(200);
    const r = decisive.data;
    expect(r.voters).toBe("included");
    expect(r.coverage).toEqual({ pairs_planned: 18, pairs_with_k_votes: 0, share: 0, votes: 36 });
    // voter-1 and voter-2, by their policies: final beats import 12–0; final vs vlm: 6 wins (voter-1) and 6 ties (voter-2); import vs vlm: 6–6.
    expect(r.pairs.map((p: any) => [p.a, p.b, p.wins, p.ties, p.losses])).toEqual([
      ["final", "import:gpt4v", 12, 0, 0],
      ["final", "vlm:mock", 6, 6, 0],
      ["import:gpt4v", "vlm:mock", 6, 0, 6],
    ]);
    const wilson = (k: number, n: number) => {
      const z = 1.959963984540054;
      const p = k / n;
      const mid = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
      const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
      return [mid - half, mid + half];
    };
    const [lo, hi] = wilson(9, 12);
    expect(r.pairs[1].win_rate_ties_half.estimate).toBeCloseTo(0.75, 12);
    expect(r.pairs[1].win_rate_ties_half.low).toBeCloseTo(lo, 9);
    expect(r.pairs[1].win_rate_ties_half.high).toBeCloseTo(hi, 9);
    expect(r.pairs[0].sign_test_p).toBeCloseTo(2 * 0.5 ** 12, 12);
    expect(r.pairs[2].sign_test_p).toBeCloseTo(1, 12);
    expect(r.bradley_terry.sources[0].source).toBe("final");
    expect(r.bradley_terry.sources[0].score).toBeGreaterThan(Math.max(r.bradley_terry.sources[1].score, r.bradley_terry.sources[2].score));

    const all = (await call("GET", `/v1/studies/${studyId}/results?voters=all&resamples=200`, { token: await lead() })).data;
    expect(all.voters).toBe("all");
    expect(all.coverage).toEqual({ pairs_planned: 18, pairs_with_k_votes: 18, share: 1, votes: 54 });
    // voter-3's A on every ballot, counterbalanced: 3 wins and 3 losses for each source pair.
    expect(all.pairs.map((p: any) => [p.wins, p.ties, p.losses])).toEqual([
      [15, 0, 3],
      [9, 6, 3],
      [9, 0, 9],
    ]);
    // The votes this test cast, as the results must see them: gold pairs out, and a voter's second ballot of an image and source pair is its swapped repeat.
    const seen = new Set<string>();
    const regular = cast.filter((c) => {
      if (c.left === "planted" || c.right === "planted") return false;
      const key = `${c.voter}|${c.image}|${[c.left, c.right].sort().join()}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    expect(regular.length).toBe(54);
    const decided = regular.filter((c) => c.choice !== "tie");
    expect(all.position_bias).toMatchObject({ left_votes: decided.filter((c) => c.choice === "A").length, decided_votes: decided.length });
    // Fleiss' κ over the 18 pairs with 3 votes each, by the textbook formula.
    const sources = ["final", "import:gpt4v", "vlm:mock"];
    const byPair = new Map<string, number[]>();
    for (const c of regular) {
      const [a, b] = [c.left, c.right].sort((x, y) => sources.indexOf(x) - sources.indexOf(y));
      const winner = c.choice === "tie" ? null : c.choice === "A" ? c.left : c.right;
      const row = byPair.get(`${c.image}|${a}|${b}`) ?? [0, 0, 0];
      row[winner === null ? 2 : winner === a ? 0 : 1]++;
      byPair.set(`${c.image}|${a}|${b}`, row);
    }
    const rows = [...byPair.values()];
    const n = 3;
    const pBar = rows.reduce((t, r) => t + (r.reduce((u, x) => u + x * x, 0) - n) / (n * (n - 1)), 0) / rows.length;
    const pj = [0, 1, 2].map((j) => rows.reduce((t, r) => t + r[j], 0) / (rows.length * n));
    const pe = pj.reduce((t, p) => t + p * p, 0);
    expect(all.agreement.fleiss_pairs).toBe(18);
    expect(all.agreement.fleiss_kappa).toBeCloseTo((pBar - pe) / (1 - pe), 12);
    const three = all.voters_table.find((v: any) => v.voter === "voter-3");
    expect(three).toMatchObject({ excluded: true, votes: 18, gold_votes: 2, gold_correct: 1, gold_accuracy: 0.5, flip_rate: 1 });
    expect(three.flags.sort()).toEqual(["fast", "gold"]);
    for (const name of ["voter-1", "voter-2"]) {
      expect(all.voters_table.find((v: any) => v.voter === name)).toMatchObject({ excluded: false, votes: 18, gold_accuracy: 1, flips: 0, flags: [] });
    }

    const csv = await call("GET", `/v1/studies/${studyId}/results?table=pairs&resamples=0`, { token: await lead(), headers: { accept: "text/csv" } });
    expect(csv.res.headers.get("content-type")).toContain("text/csv");
    const table = parseCsv(await csv.res.text());
    expect(table[0].slice(0, 5)).toEqual(["a", "b", "wins", "ties", "losses"]);
    expect(table.slice(1).map((row) => row.slice(0, 5))).toEqual([
      ["final", "import:gpt4v", "12", "0", "0"],
      ["final", "vlm:mock", "6", "6", "0"],
      ["import:gpt4v", "vlm:mock", "6", "0", "6"],
    ]);
  });

  it("exports every vote as NDJSON, enough to recompute the results", async () => {
    const r = await call("GET", `/v1/studies/${studyId}/votes`, { token: await lead() });
    expect(r.status).toBe(200);
    const lines = (await r.res.text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(cast.length);
    const regular = lines.filter((l) => l.kind === "pair" && !l.excluded);
    const finalVsImport = regular.filter((l) => [l.a, l.b].sort().join() === "final,import:gpt4v");
    expect(finalVsImport.filter((l) => l.winner === "final").length).toBe(12);
    expect(lines.filter((l) => l.kind === "gold").every((l) => l.gold_answer === "final")).toBe(true);
  });
});
