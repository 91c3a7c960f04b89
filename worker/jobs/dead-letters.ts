import type { DeadDraftMessage, Env } from "../env.ts";
import { dbOf } from "../store/db.ts";
import { recordDeadLetter } from "../store/drafts.ts";

/** The dead-letter queue's consumer keeps every message it gets, with why, for inspection and replay. */
export async function consumeDeadLetters(batch: MessageBatch<DeadDraftMessage | Record<string, unknown>>, env: Env): Promise<void> {
  const db = dbOf(env.DB);
  for (const message of batch.messages) {
    const body = message.body as Record<string, unknown>;
    const reason = typeof body.reason === "string" ? body.reason : "delivery retries exhausted";
    await recordDeadLetter(db, batch.queue, body, reason, Date.now());
    message.ack();
  }
}
