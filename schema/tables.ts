import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { ProjectSettings } from "./project-settings.ts";

/** A campaign: its categories, images and (later) tasks, drafts and captions all hang off it. */
export const projects = sqliteTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  settings: text("settings", { mode: "json" }).$type<ProjectSettings>().notNull(),
  /** Bumped on every change; clients send it back as If-Match. */
  version: integer("version").notNull().default(1),
  /** Kept in the same batch as each ingest so listings and reports never count rows. */
  imageCount: integer("image_count").notNull().default(0),
  createdBy: text("created_by").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const categories = sqliteTable(
  "categories",
  {
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    categoryId: integer("category_id").notNull(),
    name: text("name").notNull(),
    supercategory: text("supercategory").notNull().default(""),
    isthing: integer("isthing", { mode: "boolean" }).notNull(),
    color: text("color", { mode: "json" }).$type<[number, number, number]>(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.categoryId] })],
);

/** One ingested image with its verified panoptic annotation; bytes live in R2 by sha256. */
export const images = sqliteTable(
  "images",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    externalId: text("external_id"),
    fileName: text("file_name").notNull(),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    format: text("format", { enum: ["jpeg", "png"] }).notNull(),
    imageSha256: text("image_sha256").notNull(),
    imageBytes: integer("image_bytes").notNull(),
    panopticSha256: text("panoptic_sha256").notNull(),
    panopticBytes: integer("panoptic_bytes").notNull(),
    segmentCount: integer("segment_count").notNull(),
    /** Pixels with a non-zero panoptic id: the denominator of area coverage. */
    labelledArea: integer("labelled_area").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("images_project_sha").on(t.projectId, t.imageSha256),
    uniqueIndex("images_project_external")
      .on(t.projectId, t.externalId)
      .where(sql`${t.externalId} IS NOT NULL`),
    index("images_project_id").on(t.projectId, t.id),
  ],
);

/** A panoptic segment as measured from the PNG (never as declared by the uploader). */
export const segments = sqliteTable(
  "segments",
  {
    imageId: text("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    segmentId: integer("segment_id").notNull(),
    categoryId: integer("category_id").notNull(),
    iscrowd: integer("iscrowd", { mode: "boolean" }).notNull(),
    area: integer("area").notNull(),
    bboxX: integer("bbox_x").notNull(),
    bboxY: integer("bbox_y").notNull(),
    bboxW: integer("bbox_w").notNull(),
    bboxH: integer("bbox_h").notNull(),
    markX: integer("mark_x").notNull(),
    markY: integer("mark_y").notNull(),
    markDistance: real("mark_distance").notNull(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.segmentId] })],
);

export type ProjectRow = typeof projects.$inferSelect;
export type CategoryRow = typeof categories.$inferSelect;
export type ImageRow = typeof images.$inferSelect;
export type SegmentRow = typeof segments.$inferSelect;
