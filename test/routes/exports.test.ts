import { createExecutionContext, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ExportTrailer } from "../../schema/api/exports.ts";
import { decodeRle } from "../../worker/domain/rle.ts";
import worker from "../../worker/index.ts";
import { recentInvocations } from "../../worker/store/statement-budget.ts";
import { BASE, call, createProject, tokenFor } from "../support/api.ts";
import { seedFinalCaptions } from "../support/final-captions.ts";
import { ingestScene } from "../support/scenes.ts";

let lead: string;
let paged: string[];

const LIMIT = Number(env.D1_STATEMENT_LIMIT);

beforeAll(async () => {
  lead = await tokenFor("lead", [], "exp-lead");
  await createProject(lead, { id: "exp-p" });
  await createProject(lead, { id: "exp-pages" });
  paged = await seedFinalCaptions("exp-pages", 30, { prefix: "pg" });
});

interface Trailer {
  images: number;
  lines: number;
  next: string | null;
  complete: true;
}

/** A response's data lines and its trailer (null when the body does not end with one). */
function split(body: string): { lines: any[]; trailer: Trailer | null } {
  const all = body.split("\n");
  expect(all.pop(), "the body ends with a newline").toBe("");
  const records = all.map((l) => JSON.parse(l));
  const last = records.at(-1);
  // The trailer is what the OpenAPI document says it is.
  const trailer = last && "_trailer" in last ? ExportTrailer.parse(records.pop())._trailer : null;
  expect(records.some((r) => "_trailer" in r), "a trailer only at the end").toBe(false);
  return { lines: records, trailer };
}

/** The statements of the last request to `path` (its body read to the end, so the streamed pages included). */
const statementsOf = (path: string) => recentInvocations.filter((i) => i.label === `GET ${path}`).at(-1)!.statements;

/** Every page of an export, following the trailers' `next`. */
async function allPages(path: string, query: string, fetchPage = (url: string) => call("GET", url, { token: lead }).then((r) => r.res)) {
  const pages: { lines: any[]; trailer: Trailer; statements: number }[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetchPage(`${path}?${query}${cursor ? `&cursor=${cursor}` : ""}`);
    expect(res.status).toBe(200);
    const { lines, trailer } = split(new TextDecoder().decode(await res.arrayBuffer()));
    expect(trailer, "every response ends with its trailer").not.toBeNull();
    expect(trailer!.lines).toBe(lines.length);
    pages.push({ lines, trailer: trailer!, statements: statementsOf(path) });
    cursor = trailer!.next;
  } while (cursor !== null && pages.length < 100);
  return pages;
}

describe("export requests", () => {
  it("refuses bad formats, filters, page sizes, cursors and job ids with precise problems", async () => {
    const format = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "coco" } });
    expect(format.status).toBe(400);
    expect(format.data.errors[0].path).toBe("body.format");
    const extra = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "pancap", colour: "red" } });
    expect(extra.status).toBe(400);
    const paging = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "pancap", limit: 5 } });
    expect(paging.status).toBe(400);
    const since = await call("GET", "/v1/projects/exp-p/exports/pancap?since=yesterday", { token: lead });
    expect(since.status).toBe(400);
    expect(since.data.errors[0].path).toBe("query.since");
    const status = await call("GET", "/v1/projects/exp-p/exports/t2i?status=maybe", { token: lead });
    expect(status.data.errors[0].path).toBe("query.status");
    for (const limit of ["0", "10001", "ten"]) {
      const r = await call("GET", `/v1/projects/exp-p/exports/t2i?limit=${limit}`, { token: lead });
      expect(r.status, limit).toBe(400);
      expect(r.data.errors[0].path).toBe("query.limit");
    }
    const cursor = await call("GET", "/v1/projects/exp-p/exports/t2i?cursor=%21%21", { token: lead });
    expect(cursor.status).toBe(400);
    expect(cursor.data.errors[0].path).toBe("query.cursor");
    expect(cursor.res.headers.get("content-type")).toContain("application/problem+json");
    expect((await call("GET", "/v1/projects/exp-p/exports/jobs/nope", { token: lead })).status).toBe(400);
    expect((await call("GET", "/v1/projects/exp-p/exports/jobs/exp_00000000000000000000000000", { token: lead })).status).toBe(404);
    expect((await call("GET", "/v1/projects/nowhere/exports/pancap", { token: lead })).status).toBe(404);
  });

  it("an empty project exports only the trailer, and a job over it finishes with an empty file", { timeout: 30_000 }, async () => {
    const r = await call("GET", "/v1/projects/exp-p/exports/llava", { token: lead });
    expect(r.status).toBe(200);
    expect(new TextDecoder().decode(await r.res.arrayBuffer())).toBe('{"_trailer":{"images":0,"lines":0,"next":null,"complete":true}}\n');
    const job = await call("POST", "/v1/projects/exp-p/exports", { token: lead, json: { format: "t2i" } });
    expect(job.status).toBe(202);
    let done;
    for (let i = 0; i < 100 && !done; i++) {
      const g = await call("GET", `/v1/projects/exp-p/exports/jobs/${job.data.id}`, { token: lead });
      if (g.data.status === "done") done = g.data;
      else await new Promise((ok) => setTimeout(ok, 100));
    }
    expect(done).toMatchObject({ images: 0, lines: 0, bytes: 0, messages: 1 });
    expect(done.sha256).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); // sha256 of nothing
    const file = await call("GET", done.download.url);
    expect(file.status).toBe(200);
    expect(await file.res.text()).toBe("");
  });
});

describe("the streamed export, a bounded page per response", () => {
  it("pages through every final caption once, each response ending in its trailer and within the statement limit", async () => {
    const path = "/v1/projects/exp-pages/exports/pancap";
    const pages = await allPages(path, "limit=7");
    expect(pages.map((p) => p.trailer.images)).toEqual([7, 7, 7, 7, 2]);
    expect(pages.at(-1)!.trailer.next).toBeNull();
    expect(pages.flatMap((p) => p.lines.map((l) => l.image_id))).toEqual(paged);
    for (const p of pages) {
      // Authentication, the project, and one page of five queries: the streamed queries are counted too.
      expect(p.statements).toBeGreaterThanOrEqual(5);
      expect(p.statements).toBeLessThanOrEqual(Math.min(LIMIT, 10));
    }
    // refer writes a line per grounded phrase; the trailer counts lines and images apart.
    const refer = await allPages("/v1/projects/exp-pages/exports/refer", "limit=12");
    expect(refer.map((p) => [p.trailer.images, p.trailer.lines])).toEqual([[12, 24], [12, 24], [6, 12]]);
    expect(refer.flatMap((p) => p.lines.map((l) => `${l.image_id}:${l.sentence}`))).toEqual(paged.flatMap((id) => [`${id}:a person`, `${id}:a red bicycle`]));
  });

  it("ends a page early, with a next cursor, where D1's free-plan limit of 50 statements would be passed", async () => {
    const free = { ...env, D1_STATEMENT_LIMIT: "50", EXPORT_PAGE_IMAGES: "2" };
    const viaWorker = (url: string) =>
      worker.fetch(new Request(`${BASE}${url}`, { headers: { authorization: `Bearer ${lead}` } }), free, createExecutionContext()) as Promise<Response>;
    const path = "/v1/projects/exp-pages/exports/t2i";
    const pages = await allPages(path, "limit=10000", viaWorker);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages[0].trailer.images).toBeLessThan(30);
    expect(pages[0].trailer.next).not.toBeNull();
    for (const p of pages) expect(p.statements).toBeLessThanOrEqual(25); // half the limit: the export's budget
    expect(pages.flatMap((p) => p.lines.map((l) => l.image))).toEqual(paged.map((_, i) => `pg-${i}.png`));
  });

  it("documents the page parameters and the trailer in the OpenAPI document", async () => {
    const doc = (await call("GET", "/openapi.json")).data;
    const op = doc.paths["/v1/projects/{projectId}/exports/{format}"].get;
    expect(op.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(["limit", "cursor", "split", "status", "since"]));
    expect(op.description).toContain("_trailer");
    expect(doc.components.schemas.ExportTrailer.properties._trailer.required).toEqual(expect.arrayContaining(["images", "lines", "next", "complete"]));
  });

  it("a failure mid-stream errors the body instead of ending it, so it cannot pass for a whole page", async () => {
    await createProject(lead, { id: "exp-broken" });
    // Image 260 grounds a segment it does not have: the first page (250) is written, the second cannot be.
    await seedFinalCaptions("exp-broken", 270, { prefix: "br", broken: [260] });
    const r = await call("GET", "/v1/projects/exp-broken/exports/pancap?limit=1000", { token: lead });
    expect(r.status).toBe(200);
    const reader = r.res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const read = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "ended";
        text += decoder.decode(value, { stream: true });
      }
    })();
    await expect(read).rejects.toThrow();
    expect(text).not.toContain("_trailer");
    // The first page arrived whole, then the body broke: only the missing trailer tells it from a short export.
    expect(text.split("\n").filter(Boolean).map((l) => JSON.parse(l).image_id)).toHaveLength(250);
  });

  it("gcg reads no image row per image, and its masks are the segments of the panoptic PNG", { timeout: 30_000 }, async () => {
    await createProject(lead, { id: "exp-gcg" });
    const scenes = [];
    for (const seed of [31, 32, 33]) scenes.push(await ingestScene(lead, "exp-gcg", seed));
    for (const s of scenes) {
      const segs = s.segments.slice(0, 2);
      const head = "A scene with ";
      const text = `${head}one thing and another thing.`;
      const spans = [
        { start: head.length, end: head.length + 9, segment_ids: [segs[0].id] },
        { start: head.length + 14, end: head.length + 27, segment_ids: [segs[1].id] },
      ];
      await env.DB.prepare(
        `INSERT INTO final_captions (image_id, project_id, version, text, spans, submission_id, region_versions, coverage, stats, effort, stale, updated_at)
         VALUES (?, 'exp-gcg', 1, ?, ?, ?, '{}', '{}', '{}', '{}', 0, ?)`,
      )
        .bind(s.id, text, JSON.stringify(spans), `sub_gcg_${s.id}`, Date.now())
        .run();
    }
    const gcg = await allPages("/v1/projects/exp-gcg/exports/gcg", "limit=100");
    const pancap = await allPages("/v1/projects/exp-gcg/exports/pancap", "limit=100");
    expect(gcg).toHaveLength(1);
    // The same queries whatever the format: gcg adds R2 reads, not D1 statements.
    expect(gcg[0].statements).toBe(pancap[0].statements);
    const byId = new Map(scenes.map((s) => [s.id, s]));
    for (const line of gcg[0].lines) {
      const scene = byId.get(line.image_id)!;
      for (const g of Object.values<any>(line.groundings)) {
        const mask = decodeRle(g.rle_masks[0]);
        expect(mask.reduce((n: number, v: number) => n + v, 0)).toBe(scene.segments.find((x: any) => x.id === g.segment_ids[0]).area);
      }
    }
    expect(gcg[0].lines.map((l) => l.image_id)).toEqual(scenes.map((s) => s.id).sort());
  });
});
