import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { cacheKey } from "../../worker/domain/cache-key.ts";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { submissionBody, submit } from "../support/work.ts";

let lead: string;
let alice: string;
let mallory: string;
let reviewer: string;
let voter: string;

beforeAll(async () => {
  lead = await tokenFor("lead", [], "forge-lead");
  alice = await tokenFor("annotator", ["*"], "alice");
  mallory = await tokenFor("annotator", ["*"], "mallory");
  reviewer = await tokenFor("reviewer", ["*"], "forge-rev");
  voter = await tokenFor("voter", ["*"], "forge-voter");
  await createProject(lead, { id: "forge", settings: { redundancy: { round1: 2 } } });
  for (const seed of [71, 72, 73]) await ingestScene(lead, "forge", seed);
});

const keyedClaim = (token: string, key: string) =>
  call("POST", "/v1/projects/forge/tasks/next", { token, json: { round: 1, kind: "edit" }, headers: { "idempotency-key": key } });

const leaseRow = async (taskId: string) =>
  env.DB.prepare("SELECT status, lease_owner, lease_token, lease_expires FROM tasks WHERE id = ?").bind(taskId).first<{ status: string; lease_owner: string; lease_token: string; lease_expires: number }>();

describe("lease tokens cannot be forged", () => {
  it("a keyed claim's token is not the unkeyed hash of what the client knows, and a retry still finds the lease", async () => {
    const first = await keyedClaim(alice, "alice-key-1");
    expect(first.status).toBe(200);
    // What anybody who guesses Alice's key could compute under the old derivation.
    const guessed = await cacheKey({ claim: "alice-key-1", subject: "alice", projectId: "forge", round: 1, kind: "edit" });
    expect(first.data.lease_token).not.toBe(guessed);
    expect(first.data.lease_token).toMatch(/^[0-9a-f]{64}$/);
    const again = await keyedClaim(alice, "alice-key-1");
    expect(again.status).toBe(200);
    expect(again.data.lease_token).toBe(first.data.lease_token);
    expect(again.data.task_id).toBe(first.data.task_id);

    const taskId = first.data.task_id;
    for (const token of [mallory, reviewer, voter]) {
      for (const verb of ["heartbeat", "release"]) {
        const forged = await call("POST", `/v1/tasks/${taskId}/${verb}`, { token, json: { lease_token: guessed } });
        expect([403, 409], `${verb} with a guessed token`).toContain(forged.status);
      }
    }
    const before = await leaseRow(taskId);
    expect(before).toMatchObject({ status: "leased", lease_owner: "alice", lease_token: first.data.lease_token });
  });

  it("a stolen real token is refused to anyone but the lease's owner: heartbeat, release and submit", async () => {
    const lease = (await keyedClaim(alice, "alice-key-2")).data;
    const taskId = lease.task_id;
    const before = await leaseRow(taskId);
    for (const token of [mallory, reviewer, voter]) {
      const beat = await call("POST", `/v1/tasks/${taskId}/heartbeat`, { token, json: { lease_token: lease.lease_token } });
      expect([403, 409]).toContain(beat.status);
      expect(beat.res.headers.get("content-type")).toContain("application/problem+json");
      const rel = await call("POST", `/v1/tasks/${taskId}/release`, { token, json: { lease_token: lease.lease_token } });
      expect([403, 409]).toContain(rel.status);
    }
    const stolen = await submit(mallory, lease, submissionBody(lease));
    expect(stolen.status).toBe(409);
    // Nothing moved: same owner, same token, same expiry, no submission.
    expect(await leaseRow(taskId)).toEqual(before);
    const subs = await env.DB.prepare("SELECT count(*) AS n FROM submissions WHERE task_id = ?").bind(taskId).first<{ n: number }>();
    expect(subs!.n).toBe(0);

    // The owner's own calls go through.
    expect((await call("POST", `/v1/tasks/${taskId}/heartbeat`, { token: alice, json: { lease_token: lease.lease_token } })).status).toBe(200);
    expect((await submit(alice, lease, submissionBody(lease))).status).toBe(201);
  });

  it("the database refuses a submission whose subject is not the lease's owner, even with the right token", async () => {
    const lease = (await keyedClaim(mallory, "mallory-key-1")).data;
    const row = (await leaseRow(lease.task_id))!;
    const insert = env.DB.prepare(
      `INSERT INTO submissions (id, task_id, project_id, image_id, round, subject, lease_token, draft_source, regions, effort, leased_at, duration_ms, submitted_at)
       VALUES ('sub_forged', ?, 'forge', ?, 1, 'alice', ?, 'template', '[]', '{}', 0, 0, ?)`,
    ).bind(lease.task_id, lease.image.id, row.lease_token, Date.now());
    await expect(insert.run()).rejects.toThrow(/lease_not_held/);
  });
});
