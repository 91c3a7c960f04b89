import { PRINCIPALS, type PrincipalKind } from "../../worker/auth/access-matrix.ts";
import { env } from "cloudflare:test";
import { call, createProject, tokenFor } from "./api.ts";
import { seedFinalCaptions } from "./final-captions.ts";
import { ingestScene } from "./scenes.ts";
import { claimNext, review, submissionBody, submit } from "./work.ts";

/**
 * Two projects with something of every kind in the first (images, a held lease, a submission, a
 * draft job, an export job, a caption set, a draft study and an open one with an invite and a
 * participant's ballot), and the people around them: the fixture the access matrix and the
 * fuzzer call every operation against, so requests get past their 404s.
 */
export const CELLS = PRINCIPALS;
export type Cell = PrincipalKind;

export interface World {
  projectA: string;
  projectB: string;
  /** An ingested image of A with segments, and its twin (same bytes) in B. */
  imageA: string;
  imageB: string;
  segmentA: number;
  /** A's tasks held by `annotator`, one per lease-bound operation: the claims' answers (task_id, lease_token, start). */
  held: { heartbeat: any; release: any; submit: any };
  /** An image of A with a final caption, and one whose caption is stale. */
  finalImage: string;
  staleImage: string;
  /** A region of A with a final text (its round-1 submission accepted). */
  region: { image: string; segment: number };
  /** A draft study with a model source, to generate captions for. */
  studyVlm: string;
  /** A participant of the open study that exists to be excluded. */
  excludable: string;
  /** A's submission by `annotator`, waiting for review. */
  submission: string;
  draftJob: string;
  exportJob: string;
  captionSet: string;
  studyDraft: string;
  studyOpen: string;
  invite: string;
  /** A ballot of the open study held by `participant`. */
  ballot: { id: string; leaseToken: string };
  tokens: Record<Exclude<Cell, "anonymous">, string>;
}

async function ok<T = any>(what: string, r: Promise<{ status: number; data: any }>, ...wanted: number[]): Promise<T> {
  const done = await r;
  if (!wanted.includes(done.status)) throw new Error(`${what}: ${done.status} ${JSON.stringify(done.data)}`);
  return done.data as T;
}

export async function seedWorld(prefix: string): Promise<World> {
  const projectA = `${prefix}-a`;
  const projectB = `${prefix}-b`;
  const lead = await tokenFor("lead", [projectA], `${prefix}-lead`);
  const leadB = await tokenFor("lead", [projectB], `${prefix}-lead-b`);
  const annotator = await tokenFor("annotator", [projectA], `${prefix}-ann-1`);
  const tokens: Omit<World["tokens"], "participant" | "participant-other"> = {
    admin: await tokenFor("admin", ["*"], `${prefix}-admin`),
    lead,
    "lead-other-project": leadB,
    annotator,
    "annotator-other-person": await tokenFor("annotator", [projectA], `${prefix}-ann-2`),
    "annotator-other-project": await tokenFor("annotator", [projectB], `${prefix}-ann-b`),
    reviewer: await tokenFor("reviewer", [projectA], `${prefix}-rev-1`),
    voter: await tokenFor("voter", [projectA], `${prefix}-voter-1`),
  };

  await createProject(lead, { id: projectA, settings: { redundancy: { round1: 1, round2: 1 }, review: { required: true } } });
  await createProject(leadB, { id: projectB });
  const image = await ingestScene(lead, projectA, 1);
  await ingestScene(lead, projectA, 2);
  for (const seed of [3, 4, 5, 6]) await ingestScene(lead, projectA, seed);
  const twin = await ingestScene(leadB, projectB, 1);

  const held = {
    heartbeat: await ok("claim", claimNext(annotator, projectA), 200),
    release: await ok("claim", claimNext(annotator, projectA), 200),
    submit: await ok("claim", claimNext(annotator, projectA), 200),
  };
  const second = await ok("claim", claimNext(annotator, projectA), 200);
  const submitted = await ok("submit", submit(annotator, second, submissionBody(second)), 201);
  const third = await ok("claim", claimNext(annotator, projectA), 200);
  const accepted = await ok("submit", submit(annotator, third, submissionBody(third)), 201);
  await ok("review", review(tokens.reviewer, accepted.id, "accept"), 201);

  const draftJob = await ok("draft job", call("POST", `/v1/projects/${projectA}/draft-jobs`, { token: lead, json: { round: 1 } }), 202);
  const exportJob = await ok("export job", call("POST", `/v1/projects/${projectA}/exports`, { token: lead, json: { format: "pancap" } }), 202);

  // 20 characters: with the 6-digit number the seeded ids have the shape image ids have.
  const finalsPrefix = `${prefix}finals`.replace(/[^a-z0-9]/g, "").padEnd(20, "x").slice(0, 20);
  await seedFinalCaptions(projectA, 3, { prefix: finalsPrefix });
  await env.DB.prepare("UPDATE final_captions SET stale = 1, stale_reason = 'region texts changed' WHERE image_id = ?").bind(`img_${finalsPrefix}000001`).run();
  const lines = [0, 1, 2].map((i) => JSON.stringify({ external_id: `${finalsPrefix}-${i}`, text: `Another caption ${i}.` }));
  await ok(
    "caption set",
    call("PUT", `/v1/projects/${projectA}/caption-sets/other`, { token: lead, body: lines.join("\n"), headers: { "content-type": "application/x-ndjson" } }),
    200,
  );
  const design = { sources: ["final", "import:other"], votesPerPair: 2, quota: 2, gold: { share: 0 }, seed: 5 };
  const studyDraft = await ok("study", call("POST", `/v1/projects/${projectA}/studies`, { token: lead, json: { name: "draft", question: "Which is better?", design } }), 201);
  const studyVlm = await ok(
    "study",
    call("POST", `/v1/projects/${projectA}/studies`, {
      token: lead,
      json: { name: "vlm", question: "Which is better?", design: { ...design, sources: ["final", "vlm:tmpl"], vlm: { tmpl: { provider: "template" } } } },
    }),
    201,
  );
  const studyOpen = await ok("study", call("POST", `/v1/projects/${projectA}/studies`, { token: lead, json: { name: "open", question: "Which is better?", design } }), 201);
  await ok("open", call("POST", `/v1/studies/${studyOpen.id}/open`, { token: lead }), 200);
  const invite = await ok("invite", call("POST", `/v1/studies/${studyOpen.id}/invites`, { token: lead, json: { label: "crowd", completion_code: "DONE" } }), 201);
  const join = (pid: string) => ok("join", call("POST", `/v1/studies/${studyOpen.id}/participants`, { json: { invite: invite.id, participant_id: pid } }), 201);
  const participant = (await join(`${prefix}-p1`)).token as string;
  const participantOther = (await join(`${prefix}-p2`)).token as string;
  await join(`${prefix}-p3`);
  const ballot = await ok("ballot", call("POST", `/v1/studies/${studyOpen.id}/ballots/next`, { token: participant }), 200);

  return {
    projectA,
    projectB,
    imageA: image.id,
    imageB: twin.id,
    segmentA: image.segments?.[0]?.id ?? 1,
    held,
    finalImage: `img_${finalsPrefix}000000`,
    staleImage: `img_${finalsPrefix}000001`,
    region: { image: third.image.id, segment: third.start.texts[0].segment_id },
    studyVlm: studyVlm.id,
    excludable: `participant:${invite.id}:${prefix}-p3`,
    submission: submitted.id ?? submitted.submission_id,
    draftJob: draftJob.id,
    exportJob: exportJob.id,
    captionSet: "other",
    studyDraft: studyDraft.id,
    studyOpen: studyOpen.id,
    invite: invite.id,
    ballot: { id: ballot.ballot_id, leaseToken: ballot.lease_token },
    tokens: { ...tokens, participant, "participant-other": participantOther },
  };
}
