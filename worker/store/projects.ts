import { and, asc, eq, gt, or, sql } from "drizzle-orm";
import { categories, categoryUsage, projects, type CategoryRow, type ProjectRow } from "../../schema/tables.ts";
import type { ProjectSettings } from "../../schema/project-settings.ts";
import type { Principal } from "../env.ts";
import { chunk, prepared, rowsPerInsert, type Db } from "./db.ts";

export type NewCategory = Omit<CategoryRow, "projectId">;

export async function getProject(db: Db, id: string): Promise<ProjectRow | undefined> {
  return db.select().from(projects).where(eq(projects.id, id)).get();
}

const PROJECT_CACHE_MS = 5_000;
const recent = new Map<string, { row: ProjectRow; at: number }>();

/**
 * The claim path's project read, kept for a few seconds per isolate: claims are the hottest
 * request and settings change rarely. A settings change reaches every isolate within that time;
 * this isolate's own changes are seen at once.
 */
export async function getProjectForClaims(db: Db, id: string): Promise<ProjectRow | undefined> {
  const hit = recent.get(id);
  if (hit && Date.now() - hit.at < PROJECT_CACHE_MS) return hit.row;
  const row = await getProject(db, id);
  if (row) recent.set(id, { row, at: Date.now() });
  return row;
}

export function forgetProject(id: string): void {
  recent.delete(id);
}

export async function listCategories(db: Db, projectId: string): Promise<CategoryRow[]> {
  return db.select().from(categories).where(eq(categories.projectId, projectId)).orderBy(asc(categories.categoryId)).all();
}

/** Projects visible to a principal, by id, one page after `afterId`. */
export async function listProjects(db: Db, p: Principal, afterId: string | null, limit: number): Promise<ProjectRow[]> {
  const everything = p.role === "admin" || p.projects.includes("*");
  const visible = everything
    ? undefined
    : or(sql`${projects.id} IN (SELECT value FROM json_each(${JSON.stringify(p.projects)}))`, eq(projects.createdBy, p.subject));
  return db
    .select()
    .from(projects)
    .where(and(visible, afterId ? gt(projects.id, afterId) : undefined))
    .orderBy(asc(projects.id))
    .limit(limit)
    .all();
}

function categoryInserts(db: Db, projectId: string, cats: readonly NewCategory[]) {
  return chunk(cats, rowsPerInsert(6)).map((part) =>
    db.insert(categories).values(part.map((c) => ({ ...c, projectId }))),
  );
}

/** The project and its categories land together or not at all. */
export async function insertProject(db: Db, row: ProjectRow, cats: readonly NewCategory[]): Promise<void> {
  await db.batch([db.insert(projects).values(row), ...categoryInserts(db, row.id, cats)]);
}

export interface ProjectChanges {
  name?: string;
  description?: string;
  settings?: ProjectSettings;
}

/**
 * Applies a change only if the project is still at `expectedVersion`. The category replacement is
 * guarded by this change's own write id, set by the update in the same batch: a writer that lost
 * the race (its update matched nothing) cannot satisfy it, so it changes nothing at all.
 */
export async function updateProject(
  db: Db,
  d1: D1Database,
  id: string,
  expectedVersion: number,
  changes: ProjectChanges,
  cats: readonly NewCategory[] | undefined,
  now: number,
): Promise<boolean> {
  const writeId = crypto.randomUUID();
  const update = db
    .update(projects)
    .set({ ...changes, version: expectedVersion + 1, writeId, updatedAt: now })
    .where(and(eq(projects.id, id), eq(projects.version, expectedVersion)))
    .returning({ id: projects.id });
  forgetProject(id);
  if (!cats) {
    const rows = await update.all();
    return rows.length === 1;
  }
  const guard = sql`EXISTS (SELECT 1 FROM projects WHERE id = ${id} AND write_id = ${writeId})`;
  const statements = [
    prepared(d1, update),
    prepared(d1, sql`DELETE FROM categories WHERE project_id = ${id} AND ${guard}`),
    ...chunk(cats, rowsPerInsert(6) - 1).map((part) => {
      const values = sql.join(
        part.map((c) => sql`(${id}, ${c.categoryId}, ${c.name}, ${c.supercategory}, ${c.isthing ? 1 : 0}, ${c.color ? JSON.stringify(c.color) : null})`),
        sql`, `,
      );
      return prepared(d1, sql`INSERT INTO categories (project_id, category_id, name, supercategory, isthing, color) SELECT * FROM (VALUES ${values}) WHERE ${guard}`);
    }),
  ];
  // A raw D1 batch: Drizzle's batch cannot carry sql-template statements, and this guard needs one.
  const [first] = await d1.batch(statements);
  return first.results.length === 1;
}

/** Category ids in `candidates` that some ingested segment of the project uses (from the ingest-time counts). */
export async function categoriesInUse(db: Db, projectId: string, candidates: readonly number[]): Promise<number[]> {
  if (candidates.length === 0) return [];
  const rows = await db
    .select({ id: categoryUsage.categoryId })
    .from(categoryUsage)
    // One JSON parameter instead of one per id: D1 binds at most 100.
    .where(and(eq(categoryUsage.projectId, projectId), sql`${categoryUsage.categoryId} IN (SELECT value FROM json_each(${JSON.stringify(candidates)}))`, gt(categoryUsage.segments, 0)))
    .all();
  return rows.map((r) => r.id);
}

/** The number of categories of each project in `ids`, in one statement. */
export async function categoryCounts(db: Db, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ projectId: categories.projectId, n: sql<number>`count(*)` })
    .from(categories)
    .where(sql`${categories.projectId} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`)
    .groupBy(categories.projectId)
    .all();
  return new Map(rows.map((r) => [r.projectId, r.n]));
}
