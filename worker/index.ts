import { buildApp } from "./app.ts";
import type { DeadDraftMessage, DraftQueueMessage, Env } from "./env.ts";
import { useBundledJpegCodec } from "./imaging/jpeg-wasm.worker.ts";
import { consumeDeadLetters } from "./jobs/dead-letters.ts";
import { consumeDraftBatch } from "./jobs/draft-queue.ts";
import { countStatements, withStatementBudget } from "./store/statement-budget.ts";
import { sweep } from "./jobs/sweep.ts";

// The mozjpeg modules bundled with the Worker; instantiated on the first JPEG decode or encode.
useBundledJpegCodec();

const app = buildApp();

// Every invocation counts its D1 statements (and, where D1_STATEMENT_LIMIT is set, keeps to it).
export default {
  fetch(request, env, ctx) {
    countStatements(env.DB);
    return withStatementBudget(`${request.method} ${new URL(request.url).pathname}`, env.D1_STATEMENT_LIMIT, () => app.fetch(request, env, ctx));
  },
  /** The sweep: expired leases back to the queue (claims also take expired ones on their second try), deferred consolidations. */
  async scheduled(controller, env, _ctx) {
    countStatements(env.DB);
    await withStatementBudget("scheduled", env.D1_STATEMENT_LIMIT, () => sweep(env, Math.max(Date.now(), controller.scheduledTime)));
  },
  async queue(batch, env, _ctx) {
    countStatements(env.DB);
    await withStatementBudget(`queue ${batch.queue}`, env.D1_STATEMENT_LIMIT, async () => {
      if (batch.queue.endsWith("-dlq")) await consumeDeadLetters(batch as MessageBatch<DeadDraftMessage>, env);
      else await consumeDraftBatch(batch as MessageBatch<DraftQueueMessage>, env);
    });
  },
} satisfies ExportedHandler<Env, DraftQueueMessage | DeadDraftMessage>;
