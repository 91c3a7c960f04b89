import type { ProjectRow, ImageRow, DraftRow, DraftRegion, DraftCaption, DraftProblems } from "../../schema/tables.ts";
import type { RenderSettings } from "../../schema/project-settings.ts";
import { cacheKey } from "../domain/cache-key.ts";
import type { DraftQueueMessage, Env } from "../env.ts";
import { SOM_RENDER_VERSION } from "../imaging/som.ts";
import type { Db } from "../store/db.ts";
import { claimDraft, finishDraft, getDraft, recordRetry, renewDraftLease, type CallRecord, type DraftClaim, type DraftOutcome } from "../store/drafts.ts";
import { getImage, listSegments, type SegmentWithCategory } from "../store/images.ts";
import { getBlob } from "../store/blobs.ts";
import { getProject } from "../store/projects.ts";
import { openAiProvider } from "../vlm/openai.ts";
import { parseMergeAnswer, parseRegionsAnswer } from "../vlm/parse.ts";
import { DESCRIBE_PROMPT, describeMessages, MERGE_PROMPT, mergeMessages, ROUND1_PROMPT, round1Messages } from "../vlm/prompts.ts";
import type { StudyVlmSettings } from "../../schema/study-design.ts";
import { VlmError, type VlmAnswer, type VlmProvider } from "../vlm/provider.ts";
import { templateMerge, templateRegions } from "../vlm/template.ts";
import { workersAiProvider } from "../vlm/workers-ai.ts";
import { ensureRender } from "./render.ts";

export const TEMPLATE_VERSION = 1;
const DEFAULT_WORKERS_AI_MODEL = "@cf/meta/llama-3.2-11b-vision-instruct";
const LEASE_SLACK_MS = 30_000;

/** Round-2 input: the final text of each region. */
export interface RegionText {
  segmentId: number;
  text: string;
}

/** What a generator needs beyond the cache key: stored on the draft so it never re-reads settings. */
interface DraftParams {
  temperature: number;
  maxTokens: number;
  timeoutMs: number;
  baseUrl?: string;
  apiKeySecret?: string;
  render: RenderSettings;
  regions?: RegionText[];
  [key: string]: unknown;
}

/**
 * The draft for (image, round) under the project's current settings: its key hashes everything that
 * changes the model's answer — and nothing else (endpoint URL, key and timeout do not).
 */
export async function draftClaimFor(image: ImageRow, project: ProjectRow, round: 1 | 2, regions?: RegionText[], jobId: string | null = null): Promise<DraftClaim> {
  const vlm = project.settings.vlm;
  const provider = vlm.provider;
  const model = provider === "template" ? "template" : provider === "workers-ai" ? (vlm.model ?? DEFAULT_WORKERS_AI_MODEL) : vlm.model!;
  const prompt =
    provider === "template"
      ? { id: round === 1 ? "template-round1" : "template-merge", version: TEMPLATE_VERSION }
      : round === 1
        ? ROUND1_PROMPT
        : MERGE_PROMPT;
  const answerParams = provider === "template" ? {} : { temperature: vlm.temperature, maxTokens: vlm.maxTokens };
  const sortedRegions = regions ? [...regions].sort((a, b) => a.segmentId - b.segmentId) : undefined;
  const key = await cacheKey({
    round,
    image: image.imageSha256,
    panoptic: image.panopticSha256,
    // The template provider never sees the render, so render options do not change its answer.
    render: provider === "template" ? undefined : { version: SOM_RENDER_VERSION, options: project.settings.render },
    prompt: { id: prompt.id, version: prompt.version },
    provider,
    model,
    params: answerParams,
    regions: sortedRegions,
  });
  const params: DraftParams = {
    temperature: vlm.temperature,
    maxTokens: vlm.maxTokens,
    timeoutMs: vlm.timeoutMs,
    baseUrl: vlm.baseUrl,
    apiKeySecret: vlm.apiKeySecret,
    render: project.settings.render,
    regions: sortedRegions,
  };
  return { key, imageId: image.id, round, provider, model, promptId: prompt.id, promptVersion: prompt.version, params, jobId };
}

/**
 * Drafts of round 3 are a study's detailed captions of whole images (`vlm:<name>` sources): the
 * same cache, single flight, queue, retries and dead letters as the annotation rounds' drafts.
 */
export const DESCRIBE_ROUND = 3;

/** The describe draft for an image under a study source's model settings; its key hashes everything that changes the answer. */
export async function describeClaimFor(image: ImageRow, vlm: StudyVlmSettings, render: RenderSettings): Promise<DraftClaim> {
  const provider = vlm.provider;
  const model = provider === "template" ? "template" : provider === "workers-ai" ? (vlm.model ?? DEFAULT_WORKERS_AI_MODEL) : vlm.model!;
  const prompt = provider === "template" ? { id: "template-describe", version: TEMPLATE_VERSION } : DESCRIBE_PROMPT;
  const answerParams = provider === "template" ? {} : { temperature: vlm.temperature, maxTokens: vlm.maxTokens };
  const seesRender = provider !== "template" && vlm.input === "som";
  const key = await cacheKey({
    round: DESCRIBE_ROUND,
    image: image.imageSha256,
    panoptic: image.panopticSha256,
    input: provider === "template" ? undefined : vlm.input,
    render: seesRender ? { version: SOM_RENDER_VERSION, options: render } : undefined,
    prompt: { id: prompt.id, version: prompt.version },
    provider,
    model,
    params: answerParams,
  });
  const params: DraftParams = {
    temperature: vlm.temperature,
    maxTokens: vlm.maxTokens,
    timeoutMs: vlm.timeoutMs,
    baseUrl: vlm.baseUrl,
    apiKeySecret: vlm.apiKeySecret,
    render,
    input: vlm.input,
  };
  return { key, imageId: image.id, round: DESCRIBE_ROUND, provider, model, promptId: prompt.id, promptVersion: prompt.version, params, jobId: null };
}

export function leaseMsFor(claim: Pick<DraftClaim, "params">): number {
  return Number((claim.params as DraftParams).timeoutMs ?? 60_000) + LEASE_SLACK_MS;
}

export async function claim(db: Db, c: DraftClaim, retakeFailed: boolean): Promise<string | null> {
  const token = crypto.randomUUID();
  return (await claimDraft(db, c, token, Date.now(), leaseMsFor(c), retakeFailed)) ? token : null;
}

/** Asks the queue for a draft, once per key: a draft already made or in the making is not asked for again. */
export async function requestDraft(db: Db, queue: Queue<DraftQueueMessage>, spec: DraftClaim): Promise<void> {
  const token = await claim(db, spec, false);
  if (token) await queue.send({ kind: "draft", key: spec.key, token, jobId: null });
}

export type AttemptResult =
  | { kind: "finished"; status: "ready" | "partial" | "failed"; deadLetter?: string }
  | { kind: "retry"; delayMs: number }
  | { kind: "stale" };

export interface AttemptOptions {
  /** This is the last attempt: a retryable failure fails the draft instead. */
  final: boolean;
  retryBaseMs: number;
}

/**
 * One attempt at generating a claimed draft. Only the holder of `token` may write; a generator
 * that lost its claim (its lease ran out and another took over) stops without writing.
 */
export async function attemptDraft(env: Env, db: Db, key: string, token: string, opts: AttemptOptions): Promise<AttemptResult> {
  const current = await getDraft(db, key);
  if (!current || current.claimToken !== token || current.status !== "pending") return { kind: "stale" };
  // Renewing also counts the attempt; it fails if another generator took the claim meanwhile.
  const row = await renewDraftLease(db, key, token, Date.now(), leaseMsFor(current));
  if (!row) return { kind: "stale" };
  const params = row.params as DraftParams;

  const image = await getImage(db, row.imageId);
  const project = image && (await getProject(db, image.projectId));
  if (!image || !project) {
    await finishDraft(db, key, token, { status: "failed", problems: { reason: "the image or its project no longer exists" } }, null, row.jobId, Date.now());
    return { kind: "finished", status: "failed" };
  }
  const segments = await listSegments(db, image);

  if (row.provider === "template") {
    const outcome = row.round === DESCRIBE_ROUND ? templateDescription(image, segments) : templateOutcome(row, image, segments);
    await finishDraft(db, key, token, outcome, null, row.jobId, Date.now());
    return { kind: "finished", status: outcome.status };
  }

  if (row.round === DESCRIBE_ROUND) return describe(env, db, row, image, params, opts);

  const render = await ensureRender(db, env.BLOBS, image, params.render);
  const markOf = new Map(render.row.marks.map((m) => [m.segmentId, m.number]));
  const segmentOfMark = new Map(render.row.marks.map((m) => [m.number, m.segmentId]));
  const byId = new Map(segments.map((s) => [s.segmentId, s]));
  const marks = render.row.marks.map((m) => ({ number: m.number, category: byId.get(m.segmentId)?.categoryName ?? "region", isthing: byId.get(m.segmentId)?.isthing ?? false }));
  const messages =
    row.round === 1
      ? round1Messages(marks)
      : mergeMessages(
          (params.regions ?? []).map((r) => ({ number: markOf.get(r.segmentId) ?? 0, category: byId.get(r.segmentId)?.categoryName ?? "region", text: r.text })),
        );

  const started = Date.now();
  let answer: VlmAnswer;
  try {
    const provider = providerFor(env, row, params);
    answer = await provider.complete({
      system: messages.system,
      prompt: messages.prompt,
      image: { mediaType: render.row.format === "png" ? "image/png" : "image/jpeg", base64: toBase64(render.bytes) },
      temperature: params.temperature,
      maxTokens: params.maxTokens,
      timeoutMs: params.timeoutMs,
      json: row.round === 1,
    });
  } catch (err) {
    return failedAttempt(db, row, params, opts, err, started, render.row.key);
  }

  const call: CallRecord = {
    attempt: row.attempts,
    provider: row.provider,
    model: answer.model,
    outcome: "ok",
    httpStatus: 200,
    tokensIn: answer.tokensIn,
    tokensOut: answer.tokensOut,
    latencyMs: answer.latencyMs,
    error: null,
  };
  const outcome = row.round === 1 ? regionsOutcome(answer.text, segmentOfMark) : mergeOutcome(answer.text, segmentOfMark);
  await finishDraft(db, key, token, { ...outcome, renderKey: render.row.key }, call, row.jobId, Date.now());
  return { kind: "finished", status: outcome.status };
}

/** A study's detailed caption of the whole image: the model sees the image itself (or its set-of-marks render). */
async function describe(env: Env, db: Db, row: DraftRow, image: ImageRow, params: DraftParams, opts: AttemptOptions): Promise<AttemptResult> {
  let bytes: Uint8Array;
  let mediaType: "image/png" | "image/jpeg";
  let renderKey: string | null = null;
  if (params.input === "som") {
    const render = await ensureRender(db, env.BLOBS, image, params.render);
    ({ bytes } = render);
    mediaType = render.row.format === "png" ? "image/png" : "image/jpeg";
    renderKey = render.row.key;
  } else {
    const blob = await getBlob(env.BLOBS, image.imageSha256);
    if (!blob) throw new Error(`blob ${image.imageSha256} is missing from R2`);
    bytes = new Uint8Array(await blob.arrayBuffer());
    mediaType = image.format === "png" ? "image/png" : "image/jpeg";
  }
  const messages = describeMessages();
  const started = Date.now();
  let answer: VlmAnswer;
  try {
    answer = await providerFor(env, row, params).complete({
      system: messages.system,
      prompt: messages.prompt,
      image: { mediaType, base64: toBase64(bytes) },
      temperature: params.temperature,
      maxTokens: params.maxTokens,
      timeoutMs: params.timeoutMs,
      json: false,
    });
  } catch (err) {
    return failedAttempt(db, row, params, opts, err, started, renderKey);
  }
  const text = answer.text.trim();
  const call: CallRecord = { attempt: row.attempts, provider: row.provider, model: answer.model, outcome: "ok", httpStatus: 200, tokensIn: answer.tokensIn, tokensOut: answer.tokensOut, latencyMs: answer.latencyMs, error: null };
  const outcome: DraftOutcome = text
    ? { status: "ready", caption: { text, spans: [] }, renderKey }
    : { status: "failed", problems: { reason: "the model answered with an empty description" }, renderKey };
  await finishDraft(db, row.key, row.claimToken!, outcome, call, row.jobId, Date.now());
  return { kind: "finished", status: outcome.status };
}

/** A failed model call: retried with backoff while attempts remain and the failure is retryable, else the draft fails. */
async function failedAttempt(db: Db, row: DraftRow, params: DraftParams, opts: AttemptOptions, err: unknown, started: number, renderKey: string | null): Promise<AttemptResult> {
  const failure = err instanceof VlmError ? err : new VlmError("network", (err as Error).message);
  const call: CallRecord = {
    attempt: row.attempts,
    provider: row.provider,
    model: row.model,
    outcome: failure.kind,
    httpStatus: failure.status ?? null,
    tokensIn: 0,
    tokensOut: 0,
    latencyMs: Date.now() - started,
    error: failure.message.slice(0, 1000),
  };
  if (failure.retryable && !opts.final) {
    const delayMs = Math.min(300_000, Math.max(failure.retryAfterMs ?? 0, opts.retryBaseMs * 2 ** Math.max(0, row.attempts - 1)));
    await recordRetry(db, row.key, row.claimToken!, call, Date.now() + delayMs + Number(params.timeoutMs) + LEASE_SLACK_MS, Date.now());
    return { kind: "retry", delayMs };
  }
  const reason = failure.retryable ? `gave up after ${row.attempts} attempt(s): ${failure.kind}: ${failure.message}` : `${failure.kind}: ${failure.message}`;
  await finishDraft(db, row.key, row.claimToken!, { status: "failed", problems: { reason }, renderKey }, call, row.jobId, Date.now());
  return { kind: "finished", status: "failed", deadLetter: reason };
}

function regionsOutcome(text: string, segmentOfMark: Map<number, number>): DraftOutcome {
  const parsed = parseRegionsAnswer(text, [...segmentOfMark.keys()]);
  const regions: DraftRegion[] = Object.entries(parsed.regions)
    .map(([mark, t]) => ({ mark: Number(mark), segmentId: segmentOfMark.get(Number(mark))!, text: t }))
    .sort((a, b) => a.mark - b.mark);
  const problems: DraftProblems = {
    ...(parsed.missing.length ? { missingMarks: parsed.missing } : {}),
    ...(parsed.unknown.length ? { unknownMarks: parsed.unknown } : {}),
    ...(parsed.reason ? { reason: parsed.reason } : {}),
  };
  return { status: parsed.status, regions: parsed.status === "failed" ? null : regions, problems: Object.keys(problems).length ? problems : null };
}

function mergeOutcome(text: string, segmentOfMark: Map<number, number>): DraftOutcome {
  const parsed = parseMergeAnswer(text, [...segmentOfMark.keys()]);
  const caption: DraftCaption | null = parsed.caption
    ? {
        text: parsed.caption.text,
        spans: parsed.caption.spans.map((s) => ({ start: s.start, end: s.end, segment_ids: s.marks.map((m) => segmentOfMark.get(m)!).sort((a, b) => a - b) })),
      }
    : null;
  const problems: DraftProblems = {
    ...(parsed.unknownMarks.length ? { unknownMarks: parsed.unknownMarks.map(String) } : {}),
    ...(parsed.errors.length ? { errors: parsed.errors } : {}),
    ...(parsed.reason ? { reason: parsed.reason } : {}),
  };
  return { status: parsed.status, caption, problems: Object.keys(problems).length ? problems : null };
}

/** Mark numbers for the template: the same order SoM uses (area, largest first; ties by id). */
function templateMarks(image: ImageRow, segments: SegmentWithCategory[]) {
  return [...segments]
    .sort((a, b) => b.area - a.area || a.segmentId - b.segmentId)
    .map((s, i) => ({
      number: i + 1,
      segmentId: s.segmentId,
      category: s.categoryName ?? "region",
      isthing: s.isthing ?? false,
      area: s.area,
      bbox: [s.bboxX, s.bboxY, s.bboxW, s.bboxH] as [number, number, number, number],
      imageWidth: image.width,
      imageHeight: image.height,
    }));
}

function templateOutcome(row: Pick<DraftRow, "round" | "params">, image: ImageRow, segments: SegmentWithCategory[]): DraftOutcome & { status: "ready" } {
  const marks = templateMarks(image, segments);
  const segmentOfMark = new Map(marks.map((m) => [m.number, m.segmentId]));
  if (row.round === 1) {
    const texts = templateRegions(marks);
    return { status: "ready", regions: marks.map((m) => ({ mark: m.number, segmentId: m.segmentId, text: texts[m.number] })) };
  }
  const finalTexts = new Map(((row.params as DraftParams).regions ?? []).map((r) => [r.segmentId, r.text]));
  const merged = templateMerge(
    marks.filter((m) => finalTexts.has(m.segmentId)).map((m) => ({ number: m.number, category: m.category, isthing: m.isthing, area: m.area, text: finalTexts.get(m.segmentId)! })),
  );
  return {
    status: "ready",
    caption: { text: merged.text, spans: merged.spans.map((s) => ({ start: s.start, end: s.end, segment_ids: s.marks.map((m) => segmentOfMark.get(m)!) })) },
  };
}

/** The template's detailed caption of a whole image: its merge of the template region texts, with no groundings. */
function templateDescription(image: ImageRow, segments: SegmentWithCategory[]): DraftOutcome & { status: "ready" } {
  const merged = templateOutcome({ round: 2, params: { regions: [...templateRegionTexts(image, segments)].map(([segmentId, text]) => ({ segmentId, text })) } }, image, segments);
  return { status: "ready", caption: { text: merged.caption!.text, spans: [] } };
}

/** The template's text per segment, computed in memory: deterministic, so it needs no stored row. */
export function templateRegionTexts(image: ImageRow, segments: SegmentWithCategory[]): Map<number, string> {
  const outcome = templateOutcome({ round: 1, params: {} }, image, segments);
  return new Map((outcome.regions ?? []).map((r) => [r.segmentId, r.text]));
}

/**
 * The template provider's draft as a finished row, for a batch that writes it together with the
 * tasks that start from it (round 2 at consolidation): no claim, no queue, nothing to wait for.
 */
export function templateDraftRow(spec: DraftClaim, image: ImageRow, segments: SegmentWithCategory[], now: number) {
  const outcome = templateOutcome({ round: spec.round, params: spec.params }, image, segments);
  return { ...spec, status: outcome.status, regions: outcome.regions ?? null, caption: outcome.caption ?? null, attempts: 1, createdAt: now, updatedAt: now };
}

/** What annotators work from when the model's draft failed: the template draft, never stored as the VLM's. */
export async function templateFallback(db: Db, image: ImageRow, row: Pick<DraftRow, "round" | "params">): Promise<DraftOutcome> {
  return templateOutcome(row, image, await listSegments(db, image));
}

function providerFor(env: Env, row: DraftRow, params: DraftParams): VlmProvider {
  if (row.provider === "openai") {
    const apiKey = params.apiKeySecret ? (env as unknown as Record<string, string | undefined>)[params.apiKeySecret] : undefined;
    if (params.apiKeySecret && !apiKey) throw new VlmError("auth", `the secret ${params.apiKeySecret} named by the project's VLM settings is not set`);
    return openAiProvider({ baseUrl: params.baseUrl!, model: row.model, apiKey });
  }
  if (row.provider === "workers-ai") {
    if (!env.AI) throw new VlmError("bad_request", "the workers-ai provider needs the AI binding, which this environment does not have");
    return workersAiProvider(env.AI, row.model);
  }
  throw new VlmError("bad_request", `unknown provider ${row.provider}`);
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
