import { createRoute, z } from "@hono/zod-openapi";
import { ProjectCreate, ProjectDetailSchema, ProjectPatch, ProjectSchema } from "../../schema/api/projects.ts";
import { IfMatchHeader, PageQuery, pageOf, problemResponses, ProjectIdParam } from "../../schema/api/common.ts";
import { ProjectSettingsSchema } from "../../schema/project-settings.ts";
import { requireRole } from "../auth/access.ts";
import { COCO_PANOPTIC_CATEGORIES } from "../domain/coco-categories.ts";
import { decodeCursor, encodeCursor, newProjectId } from "../domain/ids.ts";
import { mergePatch } from "../domain/merge-patch.ts";
import { router } from "../http/router.ts";
import { zodProblem } from "../http/errors.ts";
import { limitBody, principal, requireContentType } from "../http/middleware.ts";
import { Problem, problems } from "../http/problem.ts";
import { dbOf } from "../store/db.ts";
import { isUniqueViolation } from "../store/images.ts";
import {
  categoriesInUse,
  categoryCounts,
  getProject,
  insertProject,
  listCategories,
  listProjects,
  updateProject,
  type NewCategory,
} from "../store/projects.ts";
import { PROJECT_MEMBERS, LEADS, projectFor } from "./guards.ts";
import { categoryJson, etagOf, projectJson } from "./shape.ts";

export const projectRoutes = router();
const tags = ["Projects"];
const security = [{ bearer: [] }];

const create = createRoute({
  method: "post",
  path: "/v1/projects",
  tags,
  security,
  summary: "Create a project",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  description: "Lead or admin. Categories default to the 133 COCO-panoptic categories; settings are validated whole.",
  request: { body: { required: true, content: { "application/json": { schema: ProjectCreate } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: ProjectDetailSchema } } },
    ...problemResponses(400, 401, 403, 409, 413, 415, 422),
  },
});

projectRoutes.openapi(create, async (c) => {
  const body = c.req.valid("json");
  const me = principal(c);
  requireRole(me, LEADS, "create projects");

  const db = dbOf(c.env.DB);
  const now = Date.now();
  const row = {
    id: body.id ?? newProjectId(),
    name: body.name,
    description: body.description,
    settings: body.settings,
    version: 1,
    imageCount: 0,
    writeId: null,
    createdBy: me.subject,
    createdAt: now,
    updatedAt: now,
  };
  const cats = toCategoryRows(body.categories);
  try {
    await insertProject(db, row, cats);
  } catch (err) {
    if (isUniqueViolation(err)) throw problems.conflict(`a project with id "${row.id}" already exists`);
    throw err;
  }

  c.header("Location", `/v1/projects/${row.id}`);
  c.header("ETag", etagOf(row.version));
  return c.json({ ...projectJson(row, cats.length), categories: cats.map((k) => categoryJson({ ...k, projectId: row.id })) }, 201);
});

const list = createRoute({
  method: "get",
  path: "/v1/projects",
  tags,
  security,
  summary: "List the projects this token may act on",
  request: { query: PageQuery },
  responses: {
    200: { description: "A page of projects", content: { "application/json": { schema: pageOf(ProjectSchema, "ProjectPage") } } },
    ...problemResponses(400, 401),
  },
});

projectRoutes.openapi(list, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = cursor === undefined ? null : decodeCursor(cursor);

  const me = principal(c);
  // A voter's token may name projects, but their names and settings are not a voter's to see.
  if (!PROJECT_MEMBERS.includes(me.role)) return c.json({ items: [], next_cursor: null }, 200);
  const db = dbOf(c.env.DB);
  const rows = await listProjects(db, me, after, limit + 1);
  const page = rows.slice(0, limit);
  const counts = await categoryCounts(db, page.map((p) => p.id));
  const items = page.map((p) => projectJson(p, counts.get(p.id) ?? 0));
  return c.json({ items, next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null }, 200);
});

const get = createRoute({
  method: "get",
  path: "/v1/projects/{projectId}",
  tags,
  security,
  summary: "Get a project with its settings and categories",
  request: { params: ProjectIdParam },
  responses: {
    200: { description: "The project", content: { "application/json": { schema: ProjectDetailSchema } } },
    ...problemResponses(400, 401, 403, 404),
  },
});

projectRoutes.openapi(get, async (c) => {
  const { projectId } = c.req.valid("param");
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, principal(c), projectId, PROJECT_MEMBERS, "read projects");
  const cats = await listCategories(db, project.id);
  c.header("ETag", etagOf(project.version));
  return c.json({ ...projectJson(project, cats.length), categories: cats.map(categoryJson) }, 200);
});

const patch = createRoute({
  method: "patch",
  path: "/v1/projects/{projectId}",
  tags,
  security,
  summary: "Change a project's name, settings (merge patch) or categories",
  middleware: [requireContentType("json"), limitBody("json")] as const,
  description: "Lead or admin. Send the project's `version` as `If-Match` to refuse the change if someone else changed it first (412).",
  request: {
    params: ProjectIdParam,
    headers: IfMatchHeader,
    body: { required: true, content: { "application/json": { schema: ProjectPatch } } },
  },
  responses: {
    200: { description: "The changed project", content: { "application/json": { schema: ProjectDetailSchema } } },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422),
  },
});

projectRoutes.openapi(patch, async (c) => {
  const { projectId } = c.req.valid("param");
  const ifMatch = c.req.valid("header")["if-match"];
  const body = c.req.valid("json");
  const db = dbOf(c.env.DB);
  const project = await projectFor(db, principal(c), projectId, LEADS, "change projects");

  const expected = ifMatch ? Number(/\d+/.exec(ifMatch)![0]) : project.version;
  if (expected !== project.version) throw preconditionFailed(project.version);
  let settings = project.settings;
  if (body.settings) {
    const merged = ProjectSettingsSchema.safeParse(mergePatch(project.settings, body.settings));
    if (!merged.success) throw zodProblem("body.settings", merged.error);
    settings = merged.data;
  }
  const cats = body.categories ? toCategoryRows(body.categories) : undefined;
  if (cats) {
    const kept = new Set(cats.map((k) => k.categoryId));
    const dropped = (await listCategories(db, project.id)).map((k) => k.categoryId).filter((id) => !kept.has(id));
    const used = await categoriesInUse(db, project.id, dropped);
    if (used.length) {
      throw problems.conflict(`categories ${used.join(", ")} are used by ingested segments and cannot be removed`, { categories: used });
    }
  }
  const changed = await updateProject(db, c.env.DB, project.id, expected, { name: body.name, description: body.description, settings }, cats, Date.now());
  if (!changed) throw preconditionFailed((await getProject(db, project.id))?.version ?? project.version);

  const fresh = (await getProject(db, project.id))!;
  const freshCats = await listCategories(db, project.id);
  c.header("ETag", etagOf(fresh.version));
  return c.json({ ...projectJson(fresh, freshCats.length), categories: freshCats.map(categoryJson) }, 200);
});

function toCategoryRows(input: z.output<typeof ProjectCreate>["categories"]): NewCategory[] {
  const source = input ?? COCO_PANOPTIC_CATEGORIES.map((k) => ({ ...k }));
  return source.map((k) => ({
    categoryId: k.id,
    name: k.name,
    supercategory: k.supercategory,
    isthing: k.isthing,
    color: k.color ?? null,
  }));
}

function preconditionFailed(current: number): Problem {
  return new Problem(412, "precondition-failed", "Version mismatch", `the project is at version ${current}; re-read it and retry`, {
    current_version: current,
  });
}
