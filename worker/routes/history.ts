import { createRoute, z } from "@hono/zod-openapi";
import { Cursor, IfMatchHeader, problemResponses } from "../../schema/api/common.ts";
import { ImageIdParam } from "../../schema/api/images.ts";
import { AdjudicationCreate, AdjudicationParams, SubmissionSchema } from "../../schema/api/tasks.ts";
import { decodeCursor, encodeCursor } from "../domain/ids.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { Problem, problems } from "../http/problem.ts";
import { router } from "../http/router.ts";
import { dbOf } from "../store/db.ts";
import { draftsOfImage, HISTORY_LIMIT, taskEventsOfImage } from "../store/history.ts";
import { getImage } from "../store/images.ts";
import { adjudicate, finalRegionTexts, getConsolidation, listAdjudications } from "../store/region-texts.ts";
import { leasesOf, reviewsFor, reviewsOfImage, submissionsBy, submissionsOfImage } from "../store/submissions.ts";
import { LEADS, projectFor } from "./guards.ts";
import { submissionJson } from "./shape-tasks.ts";

export const historyRoutes = router();
const security = [{ bearer: [] }];
const iso = (ms: number) => new Date(ms).toISOString();

const HistoryEvent = z
  .object({ at: z.iso.datetime(), type: z.enum(["draft", "task", "submission", "review", "consolidation", "adjudication"]), subject: z.string().nullable(), detail: z.record(z.string(), z.unknown()) })
  .openapi("HistoryEvent");

const history = createRoute({
  method: "get",
  path: "/v1/images/{imageId}/history",
  tags: ["History"],
  security,
  summary: "Everything that happened to an image, in order",
  description:
    "Lead, reviewer or admin: drafts, leases (claims, releases, expiries), submissions and reviews of both rounds, consolidation and adjudications. " +
    `At most ${HISTORY_LIMIT} of each kind, the earliest; \`truncated\` names the kinds that had more.`,
  request: { params: ImageIdParam },
  responses: {
    200: {
      description: "The events",
      content: {
        "application/json": {
          schema: z.object({
            image_id: z.string(),
            events: z.array(HistoryEvent),
            truncated: z.array(z.enum(["draft", "task", "submission", "review", "adjudication"])).openapi({ description: `Kinds of event that had more than ${HISTORY_LIMIT}, cut at that.` }),
          }),
        },
      },
    },
    ...problemResponses(400, 401, 403, 404),
  },
});

historyRoutes.openapi(history, async (c) => {
  const { imageId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  await projectFor(db, principal(c), image.projectId, ["admin", "lead", "reviewer"], "read image histories");

  const more = HISTORY_LIMIT + 1;
  const [allDrafts, allEvents, allSubs, allRevs, consolidation, allAdjs] = await Promise.all([
    draftsOfImage(db, image.id),
    taskEventsOfImage(db, image.id),
    submissionsOfImage(db, image.id, undefined, more),
    reviewsOfImage(db, image.id, more),
    getConsolidation(db, image.id, 1),
    listAdjudications(db, image.id, more),
  ]);
  const truncated: ("draft" | "task" | "submission" | "review" | "adjudication")[] = [];
  const cut = <T>(rows: T[], kind: (typeof truncated)[number]): T[] => {
    if (rows.length <= HISTORY_LIMIT) return rows;
    truncated.push(kind);
    return rows.slice(0, HISTORY_LIMIT);
  };
  const [draftRows, events, subs, revs, adjs] = [cut(allDrafts, "draft"), cut(allEvents, "task"), cut(allSubs, "submission"), cut(allRevs, "review"), cut(allAdjs, "adjudication")];
  type Event = z.infer<typeof HistoryEvent> & { ms: number; order: number };
  const out: Event[] = [];
  const push = (ms: number, type: Event["type"], subject: string | null, detail: Record<string, unknown>) => out.push({ ms, order: out.length, at: iso(ms), type, subject, detail });
  for (const d of draftRows) push(d.createdAt, "draft", null, { key: d.key, round: d.round, status: d.status, provider: d.provider, model: d.model, attempts: d.attempts, updated_at: iso(d.updatedAt) });
  for (const e of events) push(e.at, "task", e.subject, { task_id: e.taskId, kind: e.kind, round: e.round, from: e.fromStatus, to: e.toStatus });
  for (const s of subs) push(s.submittedAt, "submission", s.subject, { submission_id: s.id, task_id: s.taskId, round: s.round, draft_source: s.draftSource, edit_rate: s.effort.editRate });
  for (const r of revs) push(r.at, "review", r.subject, { submission_id: r.submissionId, decision: r.decision, reason: r.reason });
  if (consolidation) push(consolidation.at, "consolidation", null, { round: 1, submissions: consolidation.submissionIds, agreement: consolidation.agreement });
  for (const a of adjs) push(a.at, "adjudication", a.subject, { segment_id: a.segmentId, text: a.text, previous_text: a.previousText, reason: a.reason });
  out.sort((a, b) => a.ms - b.ms || a.order - b.order);
  return c.json({ image_id: image.id, events: out.map(({ ms: _ms, order: _order, ...e }) => e), truncated }, 200);
});

const mine = createRoute({
  method: "get",
  path: "/v1/me/tasks",
  tags: ["Tasks"],
  security,
  summary: "Your current leases and your submissions (newest first) with their review status",
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: Cursor.optional() }) },
  responses: {
    200: {
      description: "Your work",
      content: {
        "application/json": {
          schema: z.object({
            leases: z.array(
              z.object({
                task_id: z.string(),
                image_id: z.string(),
                round: z.int(),
                kind: z.string(),
                lease_expires_at: z.iso.datetime(),
                expired: z.boolean().openapi({
                  description: "The lease ran out: heartbeats and submissions are refused, and the task goes back to the queue at the next sweep or claim.",
                }),
              }),
            ),
            submissions: z.array(SubmissionSchema),
            next_cursor: z.string().nullable(),
          }),
        },
      },
    },
    ...problemResponses(400, 401),
  },
});

historyRoutes.openapi(mine, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const before = cursor === undefined ? null : decodeCursor(cursor);
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const [leases, subs] = await Promise.all([leasesOf(db, me.subject), submissionsBy(db, me.subject, before, limit + 1)]);
  const now = Date.now();
  const page = subs.slice(0, limit);
  const reviews = new Map((await reviewsFor(db, page.map((s) => s.id))).map((r) => [r.submissionId, r]));
  return c.json(
    {
      leases: leases.map((t) => ({ task_id: t.id, image_id: t.imageId, round: t.round, kind: t.kind, lease_expires_at: iso(t.leaseExpires!), expired: t.leaseExpires! < now })),
      submissions: page.map((s) => submissionJson(s, reviews.get(s.id))),
      next_cursor: subs.length > limit ? encodeCursor(page[page.length - 1].id) : null,
    },
    200,
  );
});

const adjudication = createRoute({
  method: "post",
  path: "/v1/images/{imageId}/regions/{segmentId}/adjudication",
  tags: ["Reviews"],
  security,
  summary: "A lead overrides a region's final text",
  description: "Lead or admin, after consolidation. Send the region's `version` as `If-Match` to refuse the change if it moved meanwhile.",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  request: {
    params: AdjudicationParams,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: AdjudicationCreate } } },
  },
  responses: {
    200: {
      description: "The region's new final text",
      content: { "application/json": { schema: z.object({ image_id: z.string(), segment_id: z.int(), text: z.string().nullable(), source: z.string(), version: z.int() }) } },
    },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415),
  },
});

historyRoutes.openapi(adjudication, async (c) => {
  const { imageId, segmentId } = c.req.valid("param");
  const ifMatch = c.req.valid("header")["if-match"];
  const body = c.req.valid("json");
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  await projectFor(db, me, image.projectId, LEADS, "adjudicate regions");
  const current = (await finalRegionTexts(db, image.id)).find((r) => r.segmentId === segmentId);
  if (!current) throw problems.conflict(`segment ${segmentId} of ${image.id} has no final text yet (round 1 is not consolidated, or no such segment)`);
  const expected = ifMatch ? Number(/\d+/.exec(ifMatch)![0]) : current.version;
  const ok = expected === current.version && (await adjudicate(db, { imageId, segmentId, text: body.text, previousText: current.text, reason: body.reason ?? null, subject: me.subject, expectedVersion: expected, now: Date.now() }));
  if (!ok) throw new Problem(412, "precondition-failed", "Version mismatch", `the region is at version ${current.version}; re-read it and retry`, { current_version: current.version });
  c.header("ETag", `"${current.version + 1}"`);
  return c.json({ image_id: imageId, segment_id: segmentId, text: body.text, source: "adjudicated", version: current.version + 1 }, 200);
});
