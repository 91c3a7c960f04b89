import { z } from "@hono/zod-openapi";

/** The last line of every streamed export response: without it, the body was cut short. */
export const ExportTrailer = z
  .object({
    _trailer: z.object({
      images: z.int().openapi({ description: "Images in this response." }),
      lines: z.int().openapi({ description: "Data lines above the trailer (`refer` writes one per grounded phrase)." }),
      next: z.string().nullable().openapi({ description: "Pass as `cursor` (same format and filters) for the next page; null when this response ended the export." }),
      complete: z.literal(true),
    }),
  })
  .openapi("ExportTrailer");

export type ExportTrailerLine = z.infer<typeof ExportTrailer>;
