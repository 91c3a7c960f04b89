import { z } from "@hono/zod-openapi";
import { fixed } from "./common.ts";

const binary = (description: string) =>
  z.custom<File>((v) => v instanceof File, "must be a file part").openapi({ type: "string", format: "binary", description });

export const SegmentInfoInput = z.strictObject({
  id: z.int().min(0).max(2 ** 24 - 1),
  category_id: z.int(),
  iscrowd: z.union([z.literal(0), z.literal(1)]).default(0),
  bbox: fixed(z.tuple([z.int().min(0), z.int().min(0), z.int().min(0), z.int().min(0)]), 4),
  area: z.int().min(0),
});

export const SegmentsInfoInput = z
  .array(SegmentInfoInput)
  .max(10_000)
  .openapi({ description: "COCO-panoptic `segments_info`." });

export const IngestForm = z
  .object({
    image: binary("The image, JPEG or PNG."),
    panoptic: binary("The COCO-panoptic PNG: segment id = R + 256·G + 256²·B, 0 = unlabeled."),
    segments_info: z.string().openapi({
      description: "JSON array of {id, category_id, iscrowd, bbox: [x, y, w, h], area}, as in COCO-panoptic annotations.",
      example: '[{"id":3226956,"category_id":1,"iscrowd":0,"bbox":[413,158,53,138],"area":2840}]',
    }),
    file_name: z.string().max(500).optional(),
    external_id: z.string().max(200).optional().openapi({ description: "Your id for the image (e.g. the COCO image id); unique per project." }),
    split: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/, "a split is 1–40 letters, digits, _ . or -").optional().openapi({ description: "Dataset split (e.g. train, val), for export filters." }),
  })
  .openapi("IngestForm");

export const MarkSchema = z.object({ x: z.int(), y: z.int(), distance: z.number() }).openapi("MarkPoint", {
  description: "The pixel farthest from the segment's border (exact Euclidean distance transform), where its set-of-marks label goes.",
});

export const SegmentSchema = z
  .object({
    id: z.int().openapi({ description: "The panoptic segment id (R + 256·G + 256²·B)." }),
    category_id: z.int(),
    category: z.string(),
    isthing: z.boolean(),
    iscrowd: z.boolean(),
    area: z.int(),
    bbox: fixed(z.tuple([z.int(), z.int(), z.int(), z.int()]), 4),
    mark: MarkSchema,
  })
  .openapi("Segment");

const FileLink = z.object({
  url: z.string().openapi({ description: "Signed URL usable in an <img> tag without a bearer header." }),
  expires_at: z.iso.datetime(),
  sha256: z.string(),
  bytes: z.int(),
});

export const ImageSummarySchema = z
  .object({
    id: z.string(),
    project_id: z.string(),
    external_id: z.string().nullable(),
    file_name: z.string(),
    split: z.string().nullable(),
    width: z.int(),
    height: z.int(),
    format: z.enum(["jpeg", "png"]),
    segment_count: z.int(),
    created_at: z.iso.datetime(),
  })
  .openapi("ImageSummary");

export const ImageDetailSchema = ImageSummarySchema.extend({
  labelled_area: z.int(),
  segments: z.array(SegmentSchema),
  files: z.object({
    image: FileLink,
    panoptic: FileLink,
    som: z
      .object({ url: z.string(), expires_at: z.iso.datetime() })
      .openapi({ description: "The set-of-marks render under the project's render settings (rendered on first request, then cached)." }),
  }),
}).openapi("ImageDetail");

export const ImageIdParam = z.object({
  imageId: z.string().regex(/^img_[0-9a-z]{26}$/, "not an image id").openapi({ param: { name: "imageId", in: "path" } }),
});

export const FileKindParam = ImageIdParam.extend({
  kind: z.enum(["image", "panoptic", "som"]).openapi({ param: { name: "kind", in: "path" } }),
});

export const SignedQuery = z.object({
  expires: z.string().regex(/^\d{1,12}$/).optional().openapi({ description: "Signed URL expiry (unix seconds)." }),
  // Any string: a signature that is not the one this server made, in whatever alphabet, is a 401.
  sig: z.string().max(200).optional().openapi({ description: "Signed URL signature (base64url HMAC-SHA256, unpadded); one that does not verify is a 401." }),
});
