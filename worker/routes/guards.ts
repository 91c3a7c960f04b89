import type { ProjectRow } from "../../schema/tables.ts";
import { mayActOn, requireRole } from "../auth/access.ts";
import type { Principal, Role } from "../env.ts";
import { problems } from "../http/problem.ts";
import type { Db } from "../store/db.ts";
import { getProject } from "../store/projects.ts";

/**
 * Everyone who works on a project's data. Not voters: a voter sees only its own ballots, or a
 * study would not be blind (captions read directly give their sources away).
 */
export const PROJECT_MEMBERS: readonly Role[] = ["admin", "lead", "annotator", "reviewer"];
export const LEADS: readonly Role[] = ["admin", "lead"];

/** Loads a project the principal may act on with one of `roles`: 404 if absent, 403 if not theirs. */
export async function projectFor(
  db: Db,
  p: Principal,
  projectId: string,
  roles: readonly Role[],
  action: string,
  read: (db: Db, id: string) => Promise<ProjectRow | undefined> = getProject,
): Promise<ProjectRow> {
  const project = await read(db, projectId);
  if (!project) throw problems.notFound(`project "${projectId}"`);
  if (!mayActOn(p, project.id, project.createdBy)) {
    throw problems.forbidden(`this token does not grant access to project "${projectId}"`);
  }
  requireRole(p, roles, action);
  return project;
}
