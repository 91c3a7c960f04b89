import type { DraftQueueMessage, Env } from "../env.ts";
import { attemptDraft, claim, draftClaimFor } from "../flows/draft.ts";
import { dbOf, type Db } from "../store/db.ts";
import { addToJob, finishDraftFailed, getDraft } from "../store/drafts.ts";
import { listImages } from "../store/images.ts";
import { getProject } from "../store/projects.ts";
import { runExportStep } from "./export-file.ts";
import { describePage } from "../flows/study-describe.ts";
import { inPool } from "./pool.ts";

const PLAN_PAGE = 50;

/**
 * The work queue's consumer. Draft messages make one attempt each: a retryable failure goes back
 * to the queue with a delay (exponential, at least the provider's Retry-After); the last attempt
 * fails the draft and hands the message to the dead-letter queue. Plan messages expand a draft job
 * page by page, so a 118K-image project never has to fit into one invocation. Export messages write
 * a dataset file to R2, as much of it per message as the invocation's statement budget allows.
 */
export async function consumeDraftBatch(batch: MessageBatch<DraftQueueMessage>, env: Env): Promise<void> {
  const db = dbOf(env.DB);
  const maxAttempts = Number(env.DRAFT_MAX_ATTEMPTS ?? 5);
  const retryBaseMs = Number(env.DRAFT_RETRY_BASE_MS ?? 2000);
  await inPool(batch.messages, Number(env.DRAFT_CONCURRENCY ?? 4), async (message) => {
    const body = message.body;
    try {
      if (body.kind === "plan") {
        await planPage(env, db, body);
        message.ack();
        return;
      }
      if (body.kind === "describe") {
        await describePage(db, env.DRAFT_QUEUE, body.studyId, body.offset);
        message.ack();
        return;
      }
      if (body.kind === "export") {
        const outcome = await runExportStep(env, db, body, { final: message.attempts >= maxAttempts });
        // Early: sent just before its checkpoint was taken. If it never is, the message that takes it sends another.
        if (outcome === "early" && message.attempts < maxAttempts) message.retry({ delaySeconds: 1 });
        else message.ack();
        return;
      }
      const result = await attemptDraft(env, db, body.key, body.token, { final: message.attempts >= maxAttempts, retryBaseMs });
      if (result.kind === "retry") {
        message.retry({ delaySeconds: Math.ceil(result.delayMs / 1000) });
        return;
      }
      if (result.kind === "finished" && result.deadLetter) await env.DRAFT_DLQ.send({ ...body, reason: result.deadLetter });
      message.ack();
    } catch (err) {
      // Unexpected (a bug or a storage fault): retry like a model failure, and never retry forever.
      const reason = `internal error: ${(err as Error).message}`;
      console.error(JSON.stringify({ level: "error", where: "draft-queue", body, attempts: message.attempts, error: String(err) }));
      if (message.attempts < maxAttempts) {
        message.retry({ delaySeconds: Math.ceil((retryBaseMs * 2 ** (message.attempts - 1)) / 1000) });
        return;
      }
      if (body.kind === "draft") await finishDraftFailed(db, body.key, body.token, reason);
      await env.DRAFT_DLQ.send({ ...body, reason });
      message.ack();
    }
  });
}

async function planPage(env: Env, db: Db, body: Extract<DraftQueueMessage, { kind: "plan" }>): Promise<void> {
  const project = await getProject(db, body.projectId);
  if (!project) return;
  const page = await listImages(db, body.projectId, body.after, PLAN_PAGE + 1);
  const images = page.slice(0, PLAN_PAGE);
  const more = page.length > PLAN_PAGE;
  const messages: MessageSendRequest<DraftQueueMessage>[] = [];
  let skipped = 0;
  for (const image of images) {
    const c = await draftClaimFor(image, project, body.round, undefined, body.jobId);
    const existing = await getDraft(db, c.key);
    if (existing && (existing.status === "ready" || existing.status === "partial")) {
      skipped++;
      continue;
    }
    const token = await claim(db, c, true);
    if (!token) {
      skipped++; // another generator holds it
      continue;
    }
    messages.push({ body: { kind: "draft", key: c.key, token, jobId: body.jobId } });
  }
  if (messages.length) await env.DRAFT_QUEUE.sendBatch(messages);
  await addToJob(db, body.jobId, { queued: messages.length, skipped }, !more, Date.now());
  if (more) await env.DRAFT_QUEUE.send({ ...body, after: images[images.length - 1].id });
}
