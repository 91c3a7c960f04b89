/**
 * A caption goes stale when a region it was built on is adjudicated; a lead reopens it as round-2
 * rework that starts from the current caption with the changed regions named; accepting the
 * rework writes version 2 and clears the flag.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, tokenFor } from "../support/api.ts";
import { ingestScene } from "../support/scenes.ts";
import { claimNext, submissionBody, submit } from "../support/work.ts";

let lead: string, a1: string, a2: string, a3: string, a4: string;
beforeAll(async () => {
  lead = await tokenFor("lead", [], "sr-lead");
  [a1, a2, a3, a4] = await Promise.all(["sr-1", "sr-2", "sr-3", "sr-4"].map((s) => tokenFor("annotator", ["*"], s)));
});

const claim2 = (token: string, project: string) => call("POST", `/v1/projects/${project}/tasks/next`, { token, json: { round: 2 } });

/** An image through round 1 and round 2 with review off: its caption is final at version 1. */
async function finalImage(project: string, seed: number) {
  const image = await ingestScene(lead, project, seed);
  const l1 = (await claimNext(a1, project)).data;
  expect((await submit(a1, l1, submissionBody(l1))).status).toBe(201);
  const l2 = (await claim2(a2, project)).data;
  expect(l2.round).toBe(2);
  const caption = { text: l2.start.caption.text, spans: l2.start.caption.spans };
  expect((await submit(a2, l2, { lease_token: l2.lease_token, caption })).status).toBe(201);
  return image;
}

describe("stale captions come back", () => {
  it("a stale caption is reworked to version 2, starting from version 1 with the changed region named", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "sr-one", settings: { redundancy: { round1: 1, round2: 1 }, review: { required: false } } });
    const image = await finalImage("sr-one", 101);
    const v1 = (await call("GET", `/v1/images/${image.id}/caption`, { token: lead })).data;
    expect(v1).toMatchObject({ version: 1, stale: false });

    // Not stale: nothing to reopen.
    expect((await call("POST", `/v1/images/${image.id}/caption/rework`, { token: lead })).status).toBe(409);

    const segment = image.segments[0].id;
    const adj = await call("POST", `/v1/images/${image.id}/regions/${segment}/adjudication`, { token: lead, json: { text: "a corrected region text", reason: "wrong colour" } });
    expect(adj.status).toBe(200);
    expect((await call("GET", `/v1/images/${image.id}/caption`, { token: lead })).data.stale).toBe(true);
    // Stale, but nothing reopens it by itself.
    expect((await claim2(a3, "sr-one")).status).toBe(204);

    // Annotators may not reopen; the lead may.
    expect((await call("POST", `/v1/images/${image.id}/caption/rework`, { token: a3 })).status).toBe(403);
    const reopened = await call("POST", `/v1/images/${image.id}/caption/rework`, { token: lead });
    expect(reopened.status).toBe(201);
    expect(reopened.data.reopened).toBe(1);
    // Twice is once: the rework is under way.
    expect((await call("POST", `/v1/images/${image.id}/caption/rework`, { token: lead })).status).toBe(409);

    const lease = await claim2(a3, "sr-one");
    expect(lease.status).toBe(200);
    expect(lease.data.task_id).toBe(reopened.data.tasks[0].task_id);
    expect(lease.data.start.source).toBe("rework");
    expect(lease.data.start.caption.text).toBe(v1.text);
    expect(lease.data.start.changed_segments).toEqual([segment]);
    expect(lease.data.start.texts.find((t: any) => t.segment_id === segment).text).toBe("a corrected region text");
    expect(lease.data.start.note).toContain("stale");

    const text = `${v1.text} Corrected.`;
    const sent = await submit(a3, lease.data, { lease_token: lease.data.lease_token, caption: { text, spans: v1.spans } });
    expect(sent.status).toBe(201);
    const v2 = (await call("GET", `/v1/images/${image.id}/caption`, { token: lead })).data;
    expect(v2).toMatchObject({ version: 2, stale: false, stale_reason: null, text });
    expect(v2.lineage.region_versions[String(segment)]).toBe(2);
    const versions = await env.DB.prepare("SELECT version FROM final_caption_versions WHERE image_id = ? ORDER BY version").bind(image.id).all<{ version: number }>();
    expect(versions.results.map((r) => r.version)).toEqual([1, 2]);
  });

  it("a project's stale captions reopen in one call, and only those", { timeout: 60_000 }, async () => {
    await createProject(lead, { id: "sr-all", settings: { redundancy: { round1: 1, round2: 1 }, review: { required: false } } });
    const images = [];
    for (const seed of [111, 112, 113]) images.push(await finalImage("sr-all", seed));
    for (const im of images.slice(0, 2)) {
      expect((await call("POST", `/v1/images/${im.id}/regions/${im.segments[0].id}/adjudication`, { token: lead, json: { text: "changed" } })).status).toBe(200);
    }
    const first = await call("POST", "/v1/projects/sr-all/captions/rework", { token: lead });
    expect(first.status).toBe(200);
    expect(first.data.reopened).toBe(2);
    expect(first.data.tasks.map((t: any) => t.image_id).sort()).toEqual(images.slice(0, 2).map((i) => i.id).sort());
    expect((await call("POST", "/v1/projects/sr-all/captions/rework", { token: lead })).data.reopened).toBe(0);
    const claimed = [await claim2(a3, "sr-all"), await claim2(a4, "sr-all")];
    expect(claimed.map((c) => c.status)).toEqual([200, 200]);
    expect(claimed.every((c) => c.data.start.source === "rework")).toBe(true);
  });

  it("bad input gets a precise problem: a malformed image id, an unknown image or project, no token", async () => {
    const malformed = await call("POST", "/v1/images/not-an-image/caption/rework", { token: lead });
    expect(malformed.status).toBe(400);
    expect(malformed.res.headers.get("content-type")).toContain("application/problem+json");
    expect(malformed.data.errors[0].path).toBe("path.imageId");
    const unknown = await call("POST", `/v1/images/img_${"0".repeat(26)}/caption/rework`, { token: lead });
    expect(unknown.status).toBe(404);
    expect((await call("POST", "/v1/projects/no-such-project/captions/rework", { token: lead })).status).toBe(404);
    expect((await call("POST", "/v1/projects/sr-all/captions/rework", {})).status).toBe(401);
    expect((await call("POST", "/v1/projects/sr-all/captions/rework", { token: a3 })).status).toBe(403);
  });
});
