import { buildApp } from "./app.ts";
import type { DeadDraftMessage, DraftQueueMessage, Env } from "./env.ts";
import { useBundledJpegCodec } from "./imaging/jpeg-wasm.worker.ts";
import { consumeDeadLetters } from "./jobs/dead-letters.ts";
import { consumeDraftBatch } from "./jobs/draft-queue.ts";
import { dbOf } from "./store/db.ts";
import { reopenExpired } from "./store/tasks.ts";

// The mozjpeg modules bundled with the Worker; instantiated on the first JPEG decode or encode.
useBundledJpegCodec();

const app = buildApp();

export default {
  fetch: app.fetch,
  /** The sweep: expired leases back to the queue (claims also take expired ones on their second try). */
  async scheduled(_controller, env, _ctx) {
    await reopenExpired(dbOf(env.DB), Date.now());
  },
  async queue(batch, env, _ctx) {
    if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch as MessageBatch<DeadDraftMessage>, env);
    else await consumeDraftBatch(batch as MessageBatch<DraftQueueMessage>, env);
  },
} satisfies ExportedHandler<Env, DraftQueueMessage | DeadDraftMessage>;
