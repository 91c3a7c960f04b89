/**
 * `npm start`: local secrets, local D1 migrations, `wrangler dev` on 127.0.0.1, the demo seeded
 * through the API, and the tokens and docs URL printed. Runs until interrupted.
 * PORT (default 8787) and GROUNDWORK_STATE_DIR (default .wrangler/state) may be set. A mock
 * OpenAI-compatible VLM runs on PORT+1 and the demo project drafts through it, unless
 * GROUNDWORK_MOCK_VLM=0 (then the demo uses the offline template provider).
 */
import { ensureDevVars } from "./lib/dev-vars.ts";
import { applyLocalMigrations, startDevServer, waitForHealthy } from "./lib/wrangler.ts";
import { startMockVlm } from "./mock-vlm.ts";
import { DEMO_PROJECT, seedDemo, seedDemoStudy } from "./seed.ts";
import { devToken } from "./token.ts";

const port = Number(process.env.PORT ?? 8787);
const stateDir = process.env.GROUNDWORK_STATE_DIR || undefined;
const base = `http://127.0.0.1:${port}`;

ensureDevVars();
const mockVlm = process.env.GROUNDWORK_MOCK_VLM === "0" ? null : await startMockVlm({ port: port + 1, host: "127.0.0.1", keepAlive: true });
applyLocalMigrations(stateDir);
const server = startDevServer(port, stateDir);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.kill("SIGTERM");
    void mockVlm?.close();
  });
}
server.on("exit", async (code) => {
  await mockVlm?.close();
  process.exit(code ?? 0);
});

try {
  await waitForHealthy(base, server);
  const lead = await devToken("lead", [DEMO_PROJECT], "demo-lead");
  const annotator = await devToken("annotator", [DEMO_PROJECT], "demo-annotator");
  const reviewer = await devToken("reviewer", [DEMO_PROJECT], "demo-reviewer");
  const seeded = await seedDemo(base, lead, mockVlm?.url);
  const study = await seedDemoStudy(base, lead, mockVlm?.url);
  const voter = await devToken("voter", [DEMO_PROJECT], "demo-voter");
  console.log(
    [
      "",
      "Groundwork is running.",
      `  API:        ${base}`,
      `  Docs:       ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
      `  Demo:       project "${DEMO_PROJECT}" (${seeded.created} images created, ${seeded.present} already there)`,
      `  Mock VLM:   ${mockVlm ? `${mockVlm.url} (OpenAI-compatible; the demo drafts through it)` : "off (GROUNDWORK_MOCK_VLM=0)"}`,
      `  LEAD_TOKEN=${lead}`,
      `  ANNOTATOR_TOKEN=${annotator}`,
      `  REVIEWER_TOKEN=${reviewer}`,
      `  VOTER_TOKEN=${voter}`,
      `  Study:      ${study.studyId} (${study.status}); vote at ${base}/studies/${study.studyId}/vote#token=${voter}`,
      `  Try: curl -H "Authorization: Bearer $LEAD_TOKEN" ${base}/v1/projects/${DEMO_PROJECT}/images`,
      "",
    ].join("\n"),
  );
} catch (err) {
  console.error(`start: ${(err as Error).message}`);
  server.kill("SIGTERM");
  process.exitCode = 1;
}
