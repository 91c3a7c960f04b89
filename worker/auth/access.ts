import type { Principal, Role } from "../env.ts";
import { fail } from "../domain/errors.ts";

/** Throws 403 unless the principal has one of the roles. */
export function requireRole(p: Principal, roles: readonly Role[], action: string): void {
  if (!roles.includes(p.role)) {
    throw fail.forbidden(`role "${p.role}" may not ${action}; it needs one of: ${roles.join(", ")}`);
  }
}

/**
 * A principal acts on a project when it is an admin, when its token lists the project (or "*"),
 * or when it is the lead who created the project (a lead's token predates the project it creates).
 */
export function mayActOn(p: Principal, projectId: string, createdBy: string): boolean {
  if (p.role === "admin") return true;
  if (p.projects.includes("*") || p.projects.includes(projectId)) return true;
  return p.role === "lead" && p.subject === createdBy;
}

/**
 * A voter votes in a study its token names, or in any study of a project it may act on. Nothing
 * else of a project is a voter's to see: captions read directly would give the sources away.
 */
export function mayVoteIn(p: Principal, study: { id: string; projectId: string }, projectCreatedBy: string): boolean {
  if (p.studies?.includes(study.id)) return true;
  return mayActOn(p, study.projectId, projectCreatedBy);
}
