import { z } from "@hono/zod-openapi";
import { fixed, INCONSISTENT, nonBlank } from "./common.ts";
import { mergePatchSchemaOf } from "../merge-patch.ts";
import { ProjectSettingsSchema } from "../project-settings.ts";

const rgb = fixed(z.tuple([z.int().min(0).max(255), z.int().min(0).max(255), z.int().min(0).max(255)]), 3);

export const CategorySchema = z
  .strictObject({
    id: z.int().min(1).max(2 ** 31 - 1),
    name: nonBlank(100),
    supercategory: z.string().trim().max(100).default(""),
    isthing: z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => v === true || v === 1),
    color: rgb.optional(),
  })
  .openapi("Category");

export const CategoriesInput = z
  .array(CategorySchema)
  .min(1)
  .max(10_000)
  .superRefine((cats, ctx) => {
    const seen = new Set<number>();
    cats.forEach((c, i) => {
      if (seen.has(c.id)) ctx.addIssue({ code: "custom", params: INCONSISTENT, path: [i, "id"], message: `duplicate category id ${c.id}` });
      seen.add(c.id);
    });
  })
  .openapi({ description: "The project's categories (COCO-panoptic style). Default: the 133 COCO-panoptic categories." });

export const ProjectCreate = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "a project id is 1–64 lowercase letters, digits, - or _")
      .optional()
      .openapi({ description: "Chosen id (slug); generated when absent.", example: "pancap-val" }),
    name: nonBlank(200),
    description: z.string().max(5000).default(""),
    settings: ProjectSettingsSchema.prefault({}),
    categories: CategoriesInput.optional(),
  })
  .openapi("ProjectCreate");

export const ProjectPatch = z
  .strictObject({
    name: nonBlank(200).optional(),
    description: z.string().max(5000).optional(),
    settings: (mergePatchSchemaOf(ProjectSettingsSchema) as z.ZodType<Record<string, unknown>>)
      .optional()
      .openapi({ description: "A JSON merge patch (RFC 7396) over the current settings: members to change, `null` to put one back to its default; the result is validated whole." }),
    categories: CategoriesInput.optional().openapi({
      description: "Replaces the category set; refused while an ingested segment uses a category it drops.",
    }),
  })
  .openapi("ProjectPatch");

export const ProjectSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    settings: ProjectSettingsSchema,
    version: z.int().openapi({ description: "Send back as `If-Match` to guard a PATCH against lost updates." }),
    category_count: z.int(),
    image_count: z.int(),
    created_by: z.string(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi("Project");

export const ProjectDetailSchema = ProjectSchema.extend({
  categories: z.array(
    z.object({ id: z.int(), name: z.string(), supercategory: z.string(), isthing: z.boolean(), color: rgb.nullable() }),
  ),
}).openapi("ProjectDetail");
