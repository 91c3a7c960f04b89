import { createRoute, z } from "@hono/zod-openapi";
import { IfMatchHeader, PageQuery, pageOf, problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { PairSchema, StudyCreate, StudyIdParam, StudyOpened, StudyPatch, StudySchema } from "../../schema/api/studies.ts";
import type { StudyRow } from "../../schema/tables.ts";
import { decodeCursor, decodePositionCursor, encodeCursor, ulid } from "../domain/ids.ts";
import { describeSelection, vlmSources } from "../flows/study-describe.ts";
import { openStudy } from "../flows/study-open.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { Problem, problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { dbOf, type Db } from "../store/db.ts";
import { describeProgress, forgetStudy, getStudy, insertStudy, listPairs, listStudies, sourceCounts, updateStudy } from "../store/studies.ts";
import { LEADS, projectFor } from "./guards.ts";
import { studyForLead } from "./study-guards.ts";

export const studyRoutes = router();
const tags = ["Studies"];
const security = [{ bearer: [] }];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function studyJson(s: StudyRow) {
  return {
    id: s.id,
    project_id: s.projectId,
    name: s.name,
    question: s.question,
    status: s.status,
    version: s.version,
    seed: s.seed,
    design: s.design,
    pairs: s.pairs,
    gold_pairs: s.goldPairs,
    votes: s.votes,
    votes_needed: s.pairs * s.design.votesPerPair,
    created_at: iso(s.createdAt)!,
    opened_at: iso(s.openedAt),
    closed_at: iso(s.closedAt),
    vote_url: `/studies/${s.id}/vote`,
  };
}

async function readiness(db: Db, s: StudyRow) {
  const counts = await sourceCounts(db, s, s.design.sources, s.design.selection.split);
  const progress = vlmSources(s).length ? await describeProgress(db, s.id) : [];
  return s.design.sources.map((source) => {
    const drafts = progress.filter((p) => p.source === source);
    return { source, images: counts[source] ?? 0, ...(source.startsWith("vlm:") ? { drafts: Object.fromEntries(drafts.map((d) => [d.status, d.n])) } : {}) };
  });
}

const create = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/studies",
  tags,
  security,
  summary: "Design a pairwise user study (as a draft)",
  description:
    "Lead or admin. The study compares two or more caption sources (`final`, `merge-draft`, `vlm:<name>`, `import:<name>`) on the project's " +
    "images, blind and counterbalanced. It starts as a draft: `vlm:` sources' captions are asked for at once (through the draft queue, with " +
    "retries and dead letters), `import:` sources read caption sets uploaded with PUT …/caption-sets/{name}. Opening it makes the plan from the seed and freezes it.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: ProjectIdParam, body: { required: true, content: { "application/json": { schema: StudyCreate } } } },
  responses: {
    201: { description: "The draft study", content: { "application/json": { schema: StudySchema } } },
    ...problemResponses(400, 401, 403, 404, 413, 415, 422),
  },
});

studyRoutes.openapi(create, async (c) => {
  const { projectId } = c.req.valid("param");
  const body = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, me, projectId, LEADS, "design studies");
  const now = Date.now();
  const seed = body.design.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
  const row: StudyRow = {
    id: `stu_${ulid(now)}`,
    projectId: project.id,
    name: body.name,
    question: body.question,
    status: "draft",
    design: { ...body.design, seed },
    seed,
    version: 1,
    writeId: null,
    pairs: 0,
    goldPairs: 0,
    votes: 0,
    createdBy: me.subject,
    createdAt: now,
    updatedAt: now,
    openedAt: null,
    closedAt: null,
  };
  await insertStudy(db, row);
  if (vlmSources(row).length) await c.env.DRAFT_QUEUE.send({ kind: "describe", studyId: row.id, offset: 0 });
  c.header("Location", `/v1/studies/${row.id}`);
  return c.json({ ...studyJson(row), readiness: await readiness(db, row) }, 201);
});

const list = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/studies",
  tags,
  security,
  summary: "List a project's studies",
  request: { params: ProjectIdParam, query: PageQuery },
  responses: {
    200: { description: "A page of studies", content: { "application/json": { schema: pageOf(StudySchema, "StudyPage") } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyRoutes.openapi(list, async (c) => {
  const { projectId } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, LEADS, "list studies");
  const after = cursor ? decodeCursor(cursor) : null;
  const rows = await listStudies(db, projectId, after, limit + 1);
  const page = rows.slice(0, limit);
  return c.json({ items: page.map(studyJson), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null }, 200);
});

const get = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}",
  tags,
  security,
  summary: "A study: its design, status and counts (and, while a draft, how far each source is)",
  request: { params: StudyIdParam },
  responses: {
    200: { description: "The study", content: { "application/json": { schema: StudySchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyRoutes.openapi(get, async (c) => {
  const { studyId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "read studies");
  c.header("ETag", `"${study.version}"`);
  return c.json({ ...studyJson(study), ...(study.status === "draft" ? { readiness: await readiness(db, study) } : {}) }, 200);
});


function preconditionFailed(current: number): Problem {
  return new Problem(412, "precondition-failed", "Version mismatch", `the study is at version ${current}; re-read it and retry`, { current_version: current });
}

const patch = createRoute({
  method: "patch",
  path: "/v1/studies/{studyId}",
  tags,
  security,
  summary: "Change a draft study: its name, question or design (replaced whole)",
  description:
    "Lead or admin. Only a draft's question and design may change (an open study's plan and question are frozen: voters saw them); the name may " +
    "change any time. Send the study's `version` as `If-Match` to refuse the change if someone else changed it first (412). A new design with " +
    "`vlm:` sources asks for their captions again (drafts already made are reused).",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: { params: StudyIdParam, headers: IfMatchHeader, body: { required: true, content: { "application/json": { schema: StudyPatch } } } },
  responses: {
    200: { description: "The study", content: { "application/json": { schema: StudySchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422),
  },
});

studyRoutes.openapi(patch, async (c) => {
  const { studyId } = c.req.valid("param");
  const ifMatch = c.req.valid("header")["if-match"];
  const body = c.req.valid("json");
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "change studies");
  const expected = ifMatch ? Number(/\d+/.exec(ifMatch)![0]) : study.version;
  if (expected !== study.version) throw preconditionFailed(study.version);
  if ((body.design || body.question) && study.status !== "draft") throw problems.conflict(`study ${study.id} is ${study.status}: its question and design are frozen`);
  const seed = body.design ? (body.design.seed ?? study.seed) : study.seed;
  const now = Date.now();
  const changed = await updateStudy(
    db,
    study.id,
    expected,
    { ...(body.name ? { name: body.name } : {}), ...(body.question ? { question: body.question } : {}), ...(body.design ? { design: { ...body.design, seed }, seed } : {}) },
    body.design || body.question ? "draft" : null,
    now,
  );
  if (!changed) throw preconditionFailed((await getStudy(db, study.id))?.version ?? study.version);
  forgetStudy(study.id);
  if (body.design && vlmSources(changed).length) await c.env.DRAFT_QUEUE.send({ kind: "describe", studyId: study.id, offset: 0 });
  c.header("ETag", `"${changed.version}"`);
  return c.json({ ...studyJson(changed), ...(changed.status === "draft" ? { readiness: await readiness(db, changed) } : {}) }, 200);
});

const generate = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/generate",
  tags,
  security,
  summary: "Ask again for the `vlm:` sources' captions (images that gained sources since, drafts that failed)",
  description: "Lead or admin, draft studies only. Drafts already made are not made again (they are cached by everything that changes the answer).",
  request: { params: StudyIdParam },
  responses: {
    202: { description: "Queued", content: { "application/json": { schema: z.object({ images: z.int(), sources: z.array(z.string()) }) } } },
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

studyRoutes.openapi(generate, async (c) => {
  const { studyId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "run studies");
  if (study.status !== "draft") throw problems.conflict(`study ${study.id} is ${study.status}: its captions are frozen`);
  const sources = vlmSources(study);
  if (!sources.length) throw problems.conflict(`study ${study.id} has no vlm: sources`);
  const images = (await describeSelection(db, study)).length;
  await c.env.DRAFT_QUEUE.send({ kind: "describe", studyId: study.id, offset: 0 });
  return c.json({ images, sources }, 202);
});

const open = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/open",
  tags,
  security,
  summary: "Open a study: make its plan from the seed, freeze it, and start handing out ballots",
  description:
    "Lead or admin. The plan: the images that have every source now (or a seeded sample of them), every source pair on every image, " +
    "in a seeded order; `k` ballots per pair; gold pairs (marked, and planted errors in copies of a source's captions). The captions are copied " +
    "into the study, so later edits of finals do not change what voters see. 422 when no image has every source yet.",
  request: { params: StudyIdParam, headers: IfMatchHeader },
  responses: {
    200: { description: "The open study and its plan", content: { "application/json": { schema: StudyOpened } } },
    ...problemResponses(400, 401, 403, 404, 409, 412, 422),
  },
});

studyRoutes.openapi(open, async (c) => {
  const { studyId } = c.req.valid("param");
  const ifMatch = c.req.valid("header")["if-match"];
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "open studies");
  if (ifMatch && Number(/\d+/.exec(ifMatch)![0]) !== study.version) throw preconditionFailed(study.version);
  if (study.status !== "draft") throw problems.conflict(`study ${study.id} is already ${study.status}`);
  const plan = await openStudy(db, study, Date.now());
  forgetStudy(study.id);
  const fresh = (await getStudy(db, study.id))!;
  return c.json(
    { ...studyJson(fresh), plan: { images: plan.images, pairs: plan.pairs, gold_pairs: plan.goldPairs, ballots: plan.ballots, planted_skipped: plan.plantedSkipped } },
    200,
  );
});

const close = createRoute({
  method: "post",
  path: "/v1/studies/{studyId}/close",
  tags,
  security,
  summary: "Close a study: no more ballots or votes; results stay",
  request: { params: StudyIdParam },
  responses: {
    200: { description: "The closed study", content: { "application/json": { schema: StudySchema } } },
    ...problemResponses(400, 401, 403, 404, 409),
  },
});

studyRoutes.openapi(close, async (c) => {
  const { studyId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const { study } = await studyForLead(db, principal(c), studyId, "close studies");
  if (study.status !== "open") throw problems.conflict(`study ${study.id} is ${study.status}; only an open study can be closed`);
  const now = Date.now();
  const closed = await updateStudy(db, study.id, study.version, { status: "closed", closedAt: now }, "open", now);
  if (!closed) throw problems.conflict(`study ${study.id} changed meanwhile; read it again`);
  forgetStudy(study.id);
  return c.json(studyJson(closed), 200);
});

const pairs = createRoute({
  method: "get",
  path: "/v1/studies/{studyId}/pairs",
  tags,
  security,
  summary: "The plan: every pair in queue order, gold pairs with their answers (leads only)",
  request: { params: StudyIdParam, query: PageQuery },
  responses: {
    200: { description: "A page of pairs", content: { "application/json": { schema: pageOf(PairSchema, "StudyPairPage") } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

studyRoutes.openapi(pairs, async (c) => {
  const { studyId } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  await studyForLead(db, principal(c), studyId, "read study plans");
  const after = cursor ? decodePositionCursor(cursor) : -1;
  const rows = await listPairs(db, studyId, after, limit + 1);
  const page = rows.slice(0, limit);
  return c.json(
    {
      items: page.map((p) => ({ id: p.id, position: p.position, image_id: p.imageId, a: p.a, b: p.b, kind: p.kind, gold_answer: p.goldAnswer, planted: p.planted ?? null })),
      next_cursor: rows.length > limit ? encodeCursor(String(page[page.length - 1].position)) : null,
    },
    200,
  );
});
