import { notFound, onError } from "./http/errors.ts";
import { router } from "./http/router.ts";
import { withAccessRules } from "./http/access-document.ts";
import { authenticate, corsFromEnv } from "./http/middleware.ts";
import { captionReworkRoutes } from "./routes/caption-rework.ts";
import { captionRoutes } from "./routes/captions.ts";
import { draftJobRoutes } from "./routes/draft-jobs.ts";
import { exportRoutes } from "./routes/exports.ts";
import { draftRoutes } from "./routes/drafts.ts";
import { fileRoutes } from "./routes/files.ts";
import { historyRoutes } from "./routes/history.ts";
import { reviewRoutes } from "./routes/reviews.ts";
import { taskRoutes } from "./routes/tasks.ts";
import { imageRoutes } from "./routes/images.ts";
import { docsRoutes } from "./routes/docs.ts";
import { metaRoutes } from "./routes/meta.ts";
import { projectRoutes } from "./routes/projects.ts";
import { ballotRoutes } from "./routes/ballots.ts";
import { captionSetRoutes } from "./routes/caption-sets.ts";
import { studyRoutes } from "./routes/studies.ts";
import { studyResultRoutes } from "./routes/study-results.ts";
import { studyVoterRoutes } from "./routes/study-voters.ts";
import { votePageRoutes } from "./routes/vote-page.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { reportRoutes } from "./routes/reports.ts";
import { currentInvocation } from "./store/statement-budget.ts";

const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "Groundwork API",
    version: "1.0.0",
    description:
      "Backend for crowdsourced, mask-grounded detailed captioning campaigns (COCONut-PanCap style): ingest images with " +
      "COCO-panoptic masks, draft region descriptions with a VLM, have people edit and verify them, merge them into grounded captions. " +
      "Errors are RFC 9457 problem+json. Authenticate with `Authorization: Bearer <JWT>`.",
  },
  servers: [{ url: "/" }],
};

export function buildApp() {
  const app = router();
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });

  app.use("*", async (c, next) => {
    c.set("requestId", c.req.header("cf-ray") ?? crypto.randomUUID());
    await next();
    c.header("X-Request-Id", c.get("requestId"));
    const invocation = currentInvocation();
    // The D1 statements this request sent so far (a streamed body may send more after this).
    if (invocation) c.header("Server-Timing", `d1;desc="${invocation.statements} statements in ${invocation.calls} calls"`, { append: true });
  });
  app.use("*", corsFromEnv());
  app.use("/v1/*", authenticate);

  for (const routes of [metaRoutes, projectRoutes, imageRoutes, fileRoutes, draftRoutes, draftJobRoutes, taskRoutes, reviewRoutes, historyRoutes, captionRoutes, captionReworkRoutes, exportRoutes, captionSetRoutes, studyRoutes, studyVoterRoutes, ballotRoutes, studyResultRoutes, reportRoutes]) {
    app.route("/", routes);
  }

  // Generated once per isolate, on first request, not per request.
  let document: string | undefined;
  app.get("/openapi.json", (c) => {
    document ??= JSON.stringify(withAccessRules(app.getOpenAPI31Document(OPENAPI_INFO)));
    return c.body(document, 200, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "public, max-age=300" });
  });
  app.route("/", docsRoutes);
  app.route("/", votePageRoutes);
  app.route("/", dashboardRoutes);

  app.onError(onError);
  app.notFound(notFound(() => app.routes));
  return app;
}
