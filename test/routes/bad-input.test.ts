import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";

let lead: string;
let annotator: string;
let imageId: string;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "bad-lead");
  annotator = await tokenFor("annotator", ["bad-p"], "bad-ann");
  await createProject(lead, { id: "bad-p" });
  imageId = (await ingestScene(lead, "bad-p", 95)).id;
});

const expectProblem = (r: { status: number; res: Response; data: any }, status: number, path?: string) => {
  expect(r.status).toBe(status);
  expect(r.res.headers.get("content-type")).toContain("application/problem+json");
  if (path) expect(r.data.errors.map((e: any) => e.path)).toContain(path);
};

describe("bad input on the work endpoints is a precise 4xx", () => {
  it("claims, heartbeats, releases", async () => {
    expectProblem(await call("POST", "/v1/projects/bad-p/tasks/next", { token: annotator, json: { round: 3 } }), 400, "body.round");
    expectProblem(await call("POST", "/v1/projects/bad-p/tasks/next", { token: annotator, json: { kind: "vote" } }), 400, "body.kind");
    expectProblem(await call("POST", "/v1/projects/bad-p/tasks/next", { token: annotator, json: { round: 1, kind: "review" } }), 403);
    expectProblem(await call("POST", "/v1/tasks/not-a-task/heartbeat", { token: annotator, json: { lease_token: "x" } }), 400, "path.taskId");
    expectProblem(await call("POST", "/v1/tasks/tsk_00000000000000000000000000/release", { token: annotator, json: { lease_token: "x" } }), 404);
    expectProblem(await call("POST", "/v1/tasks/tsk_00000000000000000000000000/heartbeat", { token: annotator, json: {} }), 400, "body.lease_token");
  });

  it("reviews, adjudications, listings", async () => {
    expectProblem(await call("POST", "/v1/submissions/sub_00000000000000000000000000/reviews", { token: lead, json: { decision: "accept" }, headers: { "idempotency-key": "k" } }), 404);
    expectProblem(await call("POST", "/v1/submissions/nope/reviews", { token: lead, json: { decision: "maybe" }, headers: { "idempotency-key": "k" } }), 400, "path.submissionId");
    expectProblem(await call("POST", `/v1/images/${imageId}/regions/0/adjudication`, { token: lead, json: { text: "x" } }), 400, "path.segmentId");
    const early = await call("POST", `/v1/images/${imageId}/regions/1/adjudication`, { token: lead, json: { text: "x" } });
    expectProblem(early, 409);
    expect(early.data.detail).toContain("no final text yet");
    expectProblem(await call("GET", "/v1/me/tasks?cursor=%%%", { token: annotator }), 400);
    expectProblem(await call("GET", "/v1/projects/bad-p/captions?stale=maybe", { token: lead }), 400, "query.stale");
    expectProblem(await call("GET", `/v1/images/${imageId}/caption`, { token: lead }), 404);
    expectProblem(await call("GET", "/v1/projects/bad-p/draft-jobs/job_00000000000000000000000000", { token: lead }), 404);
  });
});
