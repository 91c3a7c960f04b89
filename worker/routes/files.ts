import { createRoute, z } from "@hono/zod-openapi";
import { problemResponses } from "../../schema/api/common.ts";
import { FileKindParam, SignedQuery } from "../../schema/api/images.ts";
import { checkSignature } from "../auth/signed-url.ts";
import { router } from "../http/router.ts";
import { principal } from "../http/middleware.ts";
import { problems } from "../http/problem.ts";
import { getBlob } from "../store/blobs.ts";
import { dbOf } from "../store/db.ts";
import { getImage } from "../store/images.ts";
import { getProject } from "../store/projects.ts";
import { ensureRender } from "../flows/render.ts";
import { PROJECT_MEMBERS, projectFor } from "./guards.ts";
import { signingSecret } from "./images.ts";

export const fileRoutes = router();

const getFile = createRoute({
  method: "get",
  path: "/v1/images/{imageId}/files/{kind}",
  tags: ["Images"],
  security: [{ bearer: [] }],
  summary: "Download an image's bytes: the image, its panoptic PNG, or its set-of-marks render",
  description:
    "With a bearer token, or without one through the short-lived signed URL given in the image's `files` (for <img> tags). " +
    "The ETag is the content's sha256; If-None-Match answers 304. `som` is rendered under the project's render settings on " +
    "first request and served from the R2 cache after that.",
  request: { params: FileKindParam, query: SignedQuery },
  responses: {
    200: { description: "The bytes", content: { "image/jpeg": { schema: z.any() }, "image/png": { schema: z.any() } } },
    304: { description: "Not modified" },
    ...problemResponses(400, 401, 403, 404),
  },
});

fileRoutes.openapi(getFile, async (c) => {
  const { imageId, kind } = c.req.valid("param");
  const { expires, sig } = c.req.valid("query");
  const db = dbOf(c.env.DB);
  if (sig !== undefined && !c.get("principal")) {
    // A signature without its expiry authenticates nothing: unauthenticated, like no token at all.
    if (expires === undefined) throw problems.unauthorized("a signed URL needs both expires and sig");
    const check = await checkSignature(signingSecret(c.env), c.req.path, expires, sig, Date.now());
    if (check !== "valid") throw problems.unauthorized(check === "expired" ? "the signed URL has expired" : "the URL signature does not verify");
  }
  const image = await getImage(db, imageId);
  if (!image) throw problems.notFound(`image "${imageId}"`);
  const project =
    sig === undefined || c.get("principal")
      ? await projectFor(db, principal(c), image.projectId, PROJECT_MEMBERS, "read images")
      : await getProject(db, image.projectId);
  if (!project) throw problems.notFound(`image "${imageId}"`);

  if (kind === "som") {
    const render = await ensureRender(db, c.env.BLOBS, image, project.settings.render);
    const etag = `"${render.row.sha256}"`;
    const headers = { ETag: etag, "Cache-Control": "private, max-age=300" };
    if (c.req.header("if-none-match")?.split(",").some((t) => t.trim() === etag)) return c.body(null, 304, headers);
    const type = render.row.format === "png" ? "image/png" : "image/jpeg";
    return c.body(render.bytes as Uint8Array<ArrayBuffer>, 200, { ...headers, "Content-Type": type, "X-Render-Key": render.row.key });
  }

  const sha = kind === "image" ? image.imageSha256 : image.panopticSha256;
  const etag = `"${sha}"`;
  const headers = { ETag: etag, "Cache-Control": "private, max-age=300, immutable" };
  if (c.req.header("if-none-match")?.split(",").some((t) => t.trim() === etag)) return c.body(null, 304, headers);
  const blob = await getBlob(c.env.BLOBS, sha);
  if (!blob) throw new Error(`blob ${sha} of image ${image.id} is missing from R2`);
  const type = kind === "panoptic" || image.format === "png" ? "image/png" : "image/jpeg";
  return c.body(blob.body, 200, { ...headers, "Content-Type": type, "Content-Length": String(blob.size) });
});
