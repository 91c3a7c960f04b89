import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { bleu, tokenize } from "../../worker/domain/caption-metrics.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, review, submit } from "../support/work.ts";

/**
 * Agreement on the overlap sample, through the API: three annotators of one image, each with a
 * known set of actions and texts, all accepted; the consolidation scores them, and the report's
 * figures equal what this test works out from the texts and actions it sent.
 */
const PROJECT = "agree-proj";
const lead = () => tokenFor("lead", [PROJECT], "agree-lead");
type Sent = { subject: string; regions: { segment_id: number; action: string; text: string }[] };
const sent: Sent[] = [];
let isThing = new Map<number, boolean>();

beforeAll(async () => {
  await createProject(await lead(), { id: PROJECT, settings: { redundancy: { round1: 3 } } });
  const image = await ingestScene(await lead(), PROJECT, 41);
  const detail = await call("GET", `/v1/images/${image.id}`, { token: await lead() });
  isThing = new Map(detail.data.segments.map((s: { id?: number; segment_id?: number; isthing: boolean }) => [s.segment_id ?? s.id, s.isthing]));
  const reviewer = await tokenFor("reviewer", [PROJECT], "agree-rev");
  for (const [i, subject] of ["ag-1", "ag-2", "ag-3"].entries()) {
    const token = await tokenFor("annotator", [PROJECT], subject);
    const lease = (await claimNext(token, PROJECT)).data;
    // ag-1 keeps every draft; ag-2 edits the first two regions; ag-3 edits the first and the last.
    const edit = (n: number, total: number) => (i === 1 && n < 2) || (i === 2 && (n === 0 || n === total - 1));
    const texts = lease.start.texts as { segment_id: number; text: string }[];
    const regions = texts.map((t, n) =>
      edit(n, texts.length) ? { segment_id: t.segment_id, action: "edited", text: `${t.text} It looks slightly ${i === 1 ? "darker" : "brighter"} here.` } : { segment_id: t.segment_id, action: "accepted", text: t.text },
    );
    sent.push({ subject, regions });
    expect((await submit(token, lease, { lease_token: lease.lease_token, regions })).status).toBe(201);
    const task = (await claimNext(reviewer, PROJECT, "review")).data;
    expect((await review(reviewer, task.submission.id, "accept")).status).toBe(201);
  }
});

describe("agreement on the overlap sample", () => {
  it("is scored when the image consolidates, and the report aggregates it", async () => {
    const stored = await env.DB.prepare("SELECT annotators FROM image_agreement WHERE project_id = ?").bind(PROJECT).all<{ annotators: number }>();
    expect(stored.results).toEqual([{ annotators: 3 }]);
    const r = (await call("GET", `/v1/projects/${PROJECT}/report/agreement`, { token: await lead() })).data;
    expect(r.images).toBe(1);
    expect(r.members).toEqual(["ag-1", "ag-2", "ag-3"]);
    // Raw agreement and Cohen's κ on the actions, by the textbook formula.
    const n = sent[0].regions.length;
    expect(n).toBeGreaterThanOrEqual(5);
    for (const m of r.matrix) {
      const x = sent.find((s) => s.subject === m.a)!.regions.map((g) => g.action);
      const y = sent.find((s) => s.subject === m.b)!.regions.map((g) => g.action);
      const po = x.filter((v, k) => v === y[k]).length / n;
      const labels = [...new Set([...x, ...y])];
      const pe = labels.reduce((s, l) => s + (x.filter((v) => v === l).length / n) * (y.filter((v) => v === l).length / n), 0);
      expect(m.raw_agreement, `${m.a}|${m.b}`).toBeCloseTo(po, 12);
      expect(m.kappa_mean, `${m.a}|${m.b}`).toBeCloseTo(pe === 1 ? 1 : (po - pe) / (1 - pe), 12);
      expect(m.shared_regions).toBe(n);
    }
    expect(new Set(isThing.values())).toEqual(new Set([true, false])); // the scene has things and stuff: both kinds are checked
    // BLEU-1 of every annotator's text against the others', by kind: the texts this test sent, scored by the pycocoevalcap port.
    for (const kind of ["thing", "stuff"] as const) {
      const gts = new Map<string, string[][]>();
      const res = new Map<string, string[]>();
      for (const region of sent[0].regions.map((g) => g.segment_id)) {
        for (const s of sent) {
          const id = `${region}:${s.subject}`;
          gts.set(id, sent.filter((o) => o !== s).map((o) => tokenize(o.regions.find((g) => g.segment_id === region)!.text)));
          res.set(id, tokenize(s.regions.find((g) => g.segment_id === region)!.text));
        }
      }
      const scores = bleu(gts, res).perImage;
      const ofKind = [...res.keys()].filter((id) => (isThing.get(Number(id.split(":")[0])) ? "thing" : "stuff") === kind);
      expect(r[kind].texts).toBe(ofKind.length);
      expect(r[kind].bleu1).toBeCloseTo(ofKind.reduce((s, id) => s + scores[id][0], 0) / ofKind.length, 12);
    }
    expect(r.alpha_mean).not.toBeNull();
    expect(r.members_total).toBe(3);
    // A large project's matrix shows the members scored most (or those asked for), read by key.
    const two = (await call("GET", `/v1/projects/${PROJECT}/report/agreement?limit=2`, { token: await lead() })).data;
    expect(two.members).toEqual(["ag-1", "ag-2"]);
    expect(two.matrix.map((m: { a: string; b: string }) => `${m.a}|${m.b}`)).toEqual(["ag-1|ag-2"]);
    const asked = (await call("GET", `/v1/projects/${PROJECT}/report/agreement?members=ag-3,ag-1`, { token: await lead() })).data;
    expect(asked.matrix.map((m: { a: string; b: string }) => `${m.a}|${m.b}`)).toEqual(["ag-1|ag-3"]);
    expect(asked.matrix[0]).toEqual(r.matrix.find((m: { a: string; b: string }) => m.a === "ag-1" && m.b === "ag-3"));
    const csv = await call("GET", `/v1/projects/${PROJECT}/report/agreement`, { token: await lead(), headers: { accept: "text/csv" } });
    expect((await csv.res.text()).split("\r\n")[0]).toBe("a,b,images,shared_regions,raw_agreement,kappa_mean,kappa_images");
    const rebuilt = await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: await lead() });
    expect(rebuilt.data.drift).toEqual([]);
  });
});

describe("each annotator's agreement", () => {
  it("with peers and with the consolidated text, in the annotators report", async () => {
    const rows = (await call("GET", `/v1/projects/${PROJECT}/report/annotators?round=1`, { token: await lead() })).data.items;
    const finals = await env.DB.prepare("SELECT r.segment_id AS segment, r.text AS text FROM region_texts r JOIN images i ON i.id = r.image_id WHERE i.project_id = ?")
      .bind(PROJECT)
      .all<{ segment: number; text: string }>();
    const final = new Map(finals.results.map((f) => [f.segment, f.text]));
    for (const s of sent) {
      const row = rows.find((r: { subject: string }) => r.subject === s.subject);
      const same = s.regions.filter((g) => final.get(g.segment_id) === g.text).length;
      expect(row.consolidated_agreement, s.subject).toBeCloseTo(same / s.regions.length, 12);
      expect(row.peer_rouge_l_mean).toBeGreaterThan(0);
    }
    // ag-1 kept every draft, which is what the others mostly kept too: it agrees best with the consolidated texts.
    const best = [...rows].sort((a: any, b: any) => b.consolidated_agreement - a.consolidated_agreement)[0];
    expect(best.subject).toBe("ag-1");
    expect((await call("POST", `/v1/projects/${PROJECT}/report/rebuild`, { token: await lead() })).data.drift).toEqual([]);
  });
});
