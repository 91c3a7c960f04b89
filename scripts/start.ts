/**
 * `npm start`: local secrets, local D1 migrations, `wrangler dev` on 127.0.0.1, the demo seeded
 * through the API, and the tokens and docs URL printed. Runs until interrupted.
 * PORT (default 8787) and GROUNDWORK_STATE_DIR (default .wrangler/state) may be set.
 */
import { ensureDevVars } from "./lib/dev-vars.ts";
import { applyLocalMigrations, startDevServer, waitForHealthy } from "./lib/wrangler.ts";
import { DEMO_PROJECT, seedDemo } from "./seed.ts";
import { devToken } from "./token.ts";

const port = Number(process.env.PORT ?? 8787);
const stateDir = process.env.GROUNDWORK_STATE_DIR || undefined;
const base = `http://127.0.0.1:${port}`;

ensureDevVars();
applyLocalMigrations(stateDir);
const server = startDevServer(port, stateDir);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    server.kill("SIGTERM");
  });
}
server.on("exit", (code) => process.exit(code ?? 0));

try {
  await waitForHealthy(base, server);
  const lead = await devToken("lead", [DEMO_PROJECT], "demo-lead");
  const annotator = await devToken("annotator", [DEMO_PROJECT], "demo-annotator");
  const reviewer = await devToken("reviewer", [DEMO_PROJECT], "demo-reviewer");
  const seeded = await seedDemo(base, lead);
  console.log(
    [
      "",
      "Groundwork is running.",
      `  API:        ${base}`,
      `  Docs:       ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
      `  Demo:       project "${DEMO_PROJECT}" (${seeded.created} images created, ${seeded.present} already there)`,
      `  LEAD_TOKEN=${lead}`,
      `  ANNOTATOR_TOKEN=${annotator}`,
      `  REVIEWER_TOKEN=${reviewer}`,
      `  Try: curl -H "Authorization: Bearer $LEAD_TOKEN" ${base}/v1/projects/${DEMO_PROJECT}/images`,
      "",
    ].join("\n"),
  );
} catch (err) {
  console.error(`start: ${(err as Error).message}`);
  server.kill("SIGTERM");
  process.exitCode = 1;
}
