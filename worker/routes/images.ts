import { createRoute, z } from "@hono/zod-openapi";
import { PageQuery, pageOf, problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { ImageDetailSchema, ImageIdParam, ImageSummarySchema, IngestForm, SegmentsInfoInput } from "../../schema/api/images.ts";
import type { ImageRow } from "../../schema/tables.ts";
import { decodeCursor, encodeCursor } from "../domain/ids.ts";
import { router } from "../http/router.ts";
import type { Env } from "../env.ts";
import { zodProblem } from "../http/errors.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { ingestImage } from "../flows/ingest.ts";
import { signPath } from "../auth/signed-url.ts";
import { dbOf } from "../store/db.ts";
import { getImage, listImages, listSegments } from "../store/images.ts";
import { PROJECT_MEMBERS, LEADS, projectFor } from "./guards.ts";
import { imageSummaryJson, segmentJson } from "./shape.ts";

export const imageRoutes = router();
const tags = ["Images"];
const security = [{ bearer: [] }];

const ingest = createRoute({
  method: "post",
  path: "/v1/projects/{projectId}/images",
  tags,
  security,
  summary: "Ingest an image with its COCO-panoptic annotation",
  description:
    "Lead or admin. Both images are decoded; sizes must agree; every non-zero panoptic id must be listed in `segments_info` and vice versa; " +
    "categories must be the project's; each segment's area and bbox are recomputed from the PNG and must equal the declared ones. " +
    "Any disagreement is a 422 listing every offending segment with `expected` (from the PNG) and `found` (declared), and nothing is stored. " +
    "Uploading the same image bytes again returns the existing record with 200.",
  middleware: [requireContentType("multipart"), limitBody("upload")] as const,
  request: { params: ProjectIdParam, body: { required: true, content: { "multipart/form-data": { schema: IngestForm } } } },
  responses: {
    201: { description: "Ingested", content: { "application/json": { schema: ImageDetailSchema } } },
    200: { description: "Already ingested (same image bytes and annotation)", content: { "application/json": { schema: ImageDetailSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
  },
});

imageRoutes.openapi(ingest, async (c) => {
  const { projectId } = c.req.valid("param");
  const form = c.req.valid("form");
  const segmentsInfo = parseSegmentsInfo(form.segments_info);
  const me = principal(c);
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, me, projectId, LEADS, "ingest images");

  const outcome = await ingestImage(db, c.env.BLOBS, c.env.DRAFT_QUEUE, {
    projectId,
    project,
    image: new Uint8Array(await form.image.arrayBuffer()),
    panoptic: new Uint8Array(await form.panoptic.arrayBuffer()),
    segmentsInfo,
    fileName: form.file_name ?? (form.image.name || "image"),
    externalId: form.external_id ?? null,
    split: form.split ?? null,
    createdBy: me.subject,
  });

  c.header("Location", `/v1/images/${outcome.image.id}`);
  return c.json(await imageDetail(c.env, db, outcome.image), outcome.created ? 201 : 200);
});

const list = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}/images",
  tags,
  security,
  summary: "List a project's images, oldest first",
  request: { params: ProjectIdParam, query: PageQuery },
  responses: {
    200: { description: "A page of images", content: { "application/json": { schema: pageOf(ImageSummarySchema, "ImagePage") } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

imageRoutes.openapi(list, async (c) => {
  const { projectId } = c.req.valid("param");
  const { limit, cursor } = c.req.valid("query");
  const after = cursor === undefined ? null : decodeCursor(cursor);
  const db = dbOf(c.env.DB);
  await projectFor(db, principal(c), projectId, PROJECT_MEMBERS, "list images");

  const rows = await listImages(db, projectId, after, limit + 1);
  const page = rows.slice(0, limit);
  return c.json({ items: page.map(imageSummaryJson), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null }, 200);
});

const get = createRoute({
  method: "get",
  path: "/v1/images/{imageId}",
  tags,
  security,
  summary: "Get an image: dimensions, segments (category, area, bbox, mark point) and signed file URLs",
  request: { params: ImageIdParam },
  responses: {
    200: { description: "The image", content: { "application/json": { schema: ImageDetailSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

imageRoutes.openapi(get, async (c) => {
  const { imageId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  await projectFor(db, principal(c), image.projectId, PROJECT_MEMBERS, "read images");
  return c.json(await imageDetail(c.env, db, image), 200);
});

function parseSegmentsInfo(text: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw problems.validation([{ path: "body.segments_info", message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const parsed = SegmentsInfoInput.safeParse(raw);
  if (!parsed.success) throw zodProblem("body.segments_info", parsed.error);
  return parsed.data;
}

export function signingSecret(env: Env): string {
  const secret = env.URL_SIGNING_SECRET ?? env.JWT_SECRET;
  if (!secret) throw new Error("URL_SIGNING_SECRET (or JWT_SECRET) must be configured to sign file URLs");
  return secret;
}

export async function signedLink(env: Env, image: ImageRow, kind: "image" | "panoptic" | "som") {
  const expires = Math.floor(Date.now() / 1000) + Number(env.SIGNED_URL_TTL_SECONDS ?? 300);
  return {
    url: await signPath(signingSecret(env), `/v1/images/${image.id}/files/${kind}`, expires),
    expires_at: new Date(expires * 1000).toISOString(),
  };
}

async function fileLink(env: Env, image: ImageRow, kind: "image" | "panoptic") {
  return {
    ...(await signedLink(env, image, kind)),
    sha256: kind === "image" ? image.imageSha256 : image.panopticSha256,
    bytes: kind === "image" ? image.imageBytes : image.panopticBytes,
  };
}

async function imageDetail(env: Env, db: ReturnType<typeof dbOf>, image: ImageRow): Promise<z.input<typeof ImageDetailSchema>> {
  const [segs, image_, panoptic, som] = await Promise.all([
    listSegments(db, image),
    fileLink(env, image, "image"),
    fileLink(env, image, "panoptic"),
    signedLink(env, image, "som"),
  ]);
  return { ...imageSummaryJson(image), labelled_area: image.labelledArea, segments: segs.map(segmentJson), files: { image: image_, panoptic, som } };
}
