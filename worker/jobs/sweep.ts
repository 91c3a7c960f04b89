import type { ProjectRow } from "../../schema/tables.ts";
import type { Env } from "../env.ts";
import { consolidateIfComplete, dueConsolidations } from "../flows/consolidate.ts";
import { dbOf } from "../store/db.ts";
import { getImage } from "../store/images.ts";
import { getProject } from "../store/projects.ts";
import { currentInvocation } from "../store/statement-budget.ts";
import { openHeldPastWait, reopenExpired } from "../store/tasks.ts";
import { reopenExpiredBallots } from "../store/ballots.ts";

/** A due marker younger than this is left to the request that wrote it, which consolidates at once. */
const GRACE_MS = 2_000;
/** What one consolidation may cost in statements (reads, and a batch of inserts), with a margin. */
const STATEMENTS_PER_CONSOLIDATION = 20;
/** The free plan's 50: a tick never plans for more than this many consolidations. */
const MAX_PER_TICK = 40;

/**
 * The cron sweep: expired leases (tasks and ballots) back to the queue, tasks that waited long enough for their draft
 * opened, then the consolidations that a failure after
 * an accept left undone, as many as fit this invocation's statement budget (the rest next tick).
 */
export async function sweep(env: Env, now: number): Promise<{ reopened: number; opened: number; consolidated: number; due: number }> {
  const db = dbOf(env.DB);
  const reopened = (await reopenExpired(db, now)) + (await reopenExpiredBallots(db, now));
  const opened = await openHeldPastWait(db, now);
  const budget = currentInvocation();
  const room = budget && Number.isFinite(budget.limit) ? Math.floor((budget.limit - budget.statements - 2) / STATEMENTS_PER_CONSOLIDATION) : MAX_PER_TICK;
  const due = room > 0 ? await dueConsolidations(db, now - GRACE_MS, Math.min(room, MAX_PER_TICK)) : [];
  const projects = new Map<string, ProjectRow | undefined>();
  let consolidated = 0;
  for (const d of due) {
    const image = await getImage(db, d.imageId);
    if (!image) continue;
    if (!projects.has(image.projectId)) projects.set(image.projectId, await getProject(db, image.projectId));
    const project = projects.get(image.projectId);
    if (!project) continue;
    try {
      if (await consolidateIfComplete(db, env.DRAFT_QUEUE, image, project, d.subject, now)) consolidated++;
    } catch (err) {
      // One image that cannot be consolidated yet must not hold back the others; it stays due.
      console.error(JSON.stringify({ level: "error", event: "consolidation-sweep-failed", imageId: image.id, error: String(err) }));
    }
  }
  return { reopened, opened, consolidated, due: due.length };
}
