import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCESS, accessOf, accessRuleOf, type Outcome } from "../../worker/auth/access-matrix.ts";
import { synthesizeScene } from "../../worker/imaging/synthetic.ts";
import { BASE, call } from "../support/api.ts";
import { CELLS, seedWorld, type Cell, type World } from "../support/world.ts";
import { submissionBody } from "../support/work.ts";

/**
 * The access matrix, generated: every operation of the OpenAPI document, called by every kind of
 * principal (none; admin; the project's lead, annotators, reviewer and voter; another project's
 * lead and annotator; a crowd participant and another one) on the first project's objects, must
 * be allowed or denied exactly as worker/auth/access-matrix.ts says.
 */
let world: World;
let operations: { key: string; method: string; path: string; description: string; access: unknown }[] = [];

beforeAll(async () => {
  world = await seedWorld("acl");
  const doc = await (await SELF.fetch(`${BASE}/openapi.json`)).json<{ paths: Record<string, Record<string, { description?: string; "x-access"?: unknown }>> }>();
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([m, op]) => ({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path, description: op.description ?? "", access: op["x-access"] })),
  );
}, 120_000);

interface Req {
  query?: Record<string, string>;
  json?: unknown;
  body?: () => BodyInit;
  headers?: Record<string, string>;
}

/** A request each operation would accept from someone allowed: valid, so nothing but access decides. */
function requestFor(key: string, w: World): Req {
  const key_ = () => ({ "idempotency-key": crypto.randomUUID() });
  switch (key) {
    case "POST /v1/projects":
      return { json: { name: "made by the access test" } };
    case "PATCH /v1/projects/{projectId}":
      return { json: { description: "patched by the access test" } };
    case "POST /v1/projects/{projectId}/images":
      return {
        body: () => {
          const scene = synthesizeScene(9);
          const fd = new FormData();
          fd.set("image", new Blob([scene.image], { type: "image/png" }), scene.fileName);
          fd.set("panoptic", new Blob([scene.panoptic], { type: "image/png" }), "panoptic.png");
          fd.set("segments_info", JSON.stringify(scene.segmentsInfo));
          return fd;
        },
      };
    case "POST /v1/projects/{projectId}/draft-jobs":
      return { json: { round: 1 } };
    case "POST /v1/projects/{projectId}/tasks/next":
      return { json: { round: 1, kind: "edit" } };
    case "POST /v1/tasks/{taskId}/heartbeat":
      return { json: { lease_token: w.held.heartbeat.lease_token } };
    case "POST /v1/tasks/{taskId}/release":
      return { json: { lease_token: w.held.release.lease_token } };
    case "POST /v1/tasks/{taskId}/submissions":
      return { json: submissionBody(w.held.submit), headers: key_() };
    case "POST /v1/submissions/{submissionId}/reviews":
      return { json: { decision: "accept" }, headers: key_() };
    case "POST /v1/images/{imageId}/regions/{segmentId}/adjudication":
      return { json: { text: "adjudicated by the access test", reason: "test" } };
    case "POST /v1/projects/{projectId}/exports":
      return { json: { format: "pancap" } };
    case "PUT /v1/projects/{projectId}/caption-sets/{name}":
      return { body: () => JSON.stringify({ image_id: w.finalImage, text: "A caption from the access test." }), headers: { "content-type": "application/x-ndjson" } };
    case "POST /v1/projects/{projectId}/studies":
      return { json: { name: "access", question: "Which is better?", design: { sources: ["final", "import:other"], seed: 1 } } };
    case "PATCH /v1/studies/{studyId}":
      return { json: { name: "renamed by the access test" } };
    case "POST /v1/studies/{studyId}/invites":
      return { json: { label: "access" } };
    case "POST /v1/studies/{studyId}/participants":
      return { json: { invite: w.invite, participant_id: `acl-${crypto.randomUUID().slice(0, 8)}` } };
    case "POST /v1/studies/{studyId}/exclusions":
      return { json: { voter: w.excludable, reason: "access test" } };
    case "POST /v1/studies/{studyId}/ballots/next":
      return { json: {} };
    case "POST /v1/ballots/{ballotId}/vote":
      return { json: { lease_token: w.ballot.leaseToken, choice: "A" }, headers: key_() };
    case "POST /v1/ballots/{ballotId}/release":
      return { json: { lease_token: w.ballot.leaseToken } };
    default:
      return {};
  }
}

/** The first project's object for each path parameter; a draft study where only a draft will do. */
function pathOf(path: string, w: World): string {
  const draftStudyOps = /\/studies\/\{studyId\}(\/(generate|open))?$/;
  const values: Record<string, string> = {
    projectId: w.projectA,
    imageId: path.endsWith("/caption/rework") ? w.staleImage : path.endsWith("/caption") ? w.finalImage : path.includes("/regions/") ? w.region.image : w.imageA,
    kind: "image",
    round: "1",
    jobId: path.includes("/exports/") ? w.exportJob : w.draftJob,
    taskId: path.endsWith("/heartbeat") ? w.held.heartbeat.task_id : path.endsWith("/release") ? w.held.release.task_id : w.held.submit.task_id,
    submissionId: w.submission,
    segmentId: String(w.region.segment),
    format: "pancap",
    file: "manifest",
    name: w.captionSet,
    studyId: path.endsWith("/generate") ? w.studyVlm : draftStudyOps.test(path) ? w.studyDraft : w.studyOpen,
    ballotId: w.ballot.id,
  };
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no world value for path parameter ${name} in ${path}`);
    return encodeURIComponent(values[name]);
  });
}

async function send(op: { key: string; method: string; path: string }, cell: Cell) {
  const req = requestFor(op.key, world);
  const qs = req.query ? `?${new URLSearchParams(req.query)}` : "";
  const token = cell === "anonymous" ? undefined : world.tokens[cell];
  const r = await call(op.method, pathOf(op.path, world) + qs, { token, json: req.json, body: req.body?.(), headers: req.headers });
  return r;
}

/** Operations that use up what they act on: after the first allowed caller, the next may find it gone (409). */
const CONSUMING = [
  "POST /v1/tasks/{taskId}/submissions",
  "POST /v1/tasks/{taskId}/release",
  "POST /v1/ballots/{ballotId}/vote",
  "POST /v1/ballots/{ballotId}/release",
  "POST /v1/studies/{studyId}/open",
  "POST /v1/studies/{studyId}/close",
  "POST /v1/studies/{studyId}/exclusions",
  "POST /v1/submissions/{submissionId}/reviews",
  "POST /v1/images/{imageId}/caption/rework",
  "POST /v1/projects/{projectId}/captions/rework",
];

function matches(outcome: Outcome, status: number, laterAllowedOfConsuming: boolean): boolean {
  if (outcome === "allow") return (status >= 200 && status < 300) || (laterAllowedOfConsuming && status === 409);
  return status === outcome;
}

describe("the access matrix", () => {
  it("has a row for every operation of the OpenAPI document, and none for an operation that is not", () => {
    const keys = operations.map((o) => o.key).sort();
    expect(Object.keys(ACCESS).sort()).toEqual(keys);
  });

  it("is printed in the OpenAPI document: each operation's rule in words and its row as x-access", () => {
    for (const op of operations) {
      expect(op.access, op.key).toEqual(ACCESS[op.key]);
      expect(op.description, op.key).toContain(`**Who may call:** ${accessRuleOf(op.key)}`);
    }
  });

  it("lists no projects to voters or crowd participants, whatever their tokens name", async () => {
    for (const cell of ["voter", "participant"] as const) {
      const r = await call("GET", "/v1/projects", { token: world.tokens[cell] });
      expect(r.status).toBe(200);
      expect(r.data.items).toEqual([]);
    }
    const lead = await call("GET", "/v1/projects", { token: world.tokens.lead });
    expect(lead.data.items.map((p: { id: string }) => p.id)).toContain(world.projectA);
  });

  it("is what the server does, for every operation and every kind of principal", async () => {
    // Writes that use up what they act on (a lease, a ballot, a draft study) come last, and their
    // allowed callers after the denied ones, so each cell meets the object as seeded.
    const ordered = [...operations.filter((o) => !CONSUMING.includes(o.key)), ...CONSUMING.map((k) => operations.find((o) => o.key === k)!)];
    const wrong: string[] = [];
    const seen: string[] = [];
    let calls = 0;
    for (const op of ordered) {
      const row = accessOf(op.key);
      const cells = [...CELLS].sort((a, b) => Number(row[a] === "allow") - Number(row[b] === "allow"));
      if (op.key === "POST /v1/ballots/{ballotId}/release") {
        // The vote used the participant's ballot up: this one needs a ballot held again.
        const next = await call("POST", `/v1/studies/${world.studyOpen}/ballots/next`, { token: world.tokens.participant, json: {} });
        expect(next.status, JSON.stringify(next.data)).toBe(200);
        world.ballot = { id: next.data.ballot_id, leaseToken: next.data.lease_token };
      }
      let allowedSoFar = 0;
      for (const cell of cells) {
        const r = await send(op, cell);
        calls++;
        seen.push(`${op.key} ${cell} ${r.status}`);
        if (r.status >= 400) expect(r.res.headers.get("content-type"), `${op.key} as ${cell}`).toContain("application/problem+json");
        const later = CONSUMING.includes(op.key) && row[cell] === "allow" && allowedSoFar++ > 0;
        if (!matches(row[cell], r.status, later)) wrong.push(`${op.key} as ${cell}: wanted ${row[cell]}, got ${r.status} ${JSON.stringify(r.data?.detail ?? "")}`);
      }
    }
    if (process.env.ACCESS_RECORD) console.log(seen.join("\n"));
    console.log(`access matrix: ${operations.length} operations × ${CELLS.length} principals = ${calls} calls, ${wrong.length} not as the table says`);
    expect(wrong).toEqual([]);
  }, 300_000);
});
