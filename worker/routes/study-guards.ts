import type { ProjectRow, StudyRow } from "../../schema/tables.ts";
import { mayActOn, mayVoteIn, requireRole } from "../auth/access.ts";
import type { Principal } from "../env.ts";
import { problems } from "../http/problem.ts";
import type { Db } from "../store/db.ts";
import { getProjectForClaims } from "../store/projects.ts";
import { getStudy, getStudyForBallots } from "../store/studies.ts";
import { LEADS } from "./guards.ts";

/** A study a lead (or admin) may run: 404 if absent, 403 if its project is not theirs. */
export async function studyForLead(db: Db, p: Principal, studyId: string, action: string): Promise<{ study: StudyRow; project: ProjectRow }> {
  const study = await getStudy(db, studyId);
  if (!study) throw problems.notFound(`study "${studyId}"`);
  const project = await getProjectForClaims(db, study.projectId);
  if (!project) throw problems.notFound(`study "${studyId}"`);
  if (!mayActOn(p, project.id, project.createdBy)) throw problems.forbidden(`this token does not grant access to study "${studyId}"`);
  requireRole(p, LEADS, action);
  return { study, project };
}

/** A study a voter may vote in (its design read from the few-seconds cache: an open study's plan is frozen). */
export async function studyForVoter(db: Db, p: Principal, studyId: string, action: string): Promise<StudyRow> {
  return (await votingIn(db, p, studyId, action)).study;
}

/** The study a voter may vote in, with its project (whose settings hold the vote limit). */
export async function votingIn(db: Db, p: Principal, studyId: string, action: string): Promise<{ study: StudyRow; project: ProjectRow }> {
  requireRole(p, ["voter"], action);
  const study = await getStudyForBallots(db, studyId);
  if (!study) throw problems.notFound(`study "${studyId}"`);
  const project = await getProjectForClaims(db, study.projectId);
  if (!project || !mayVoteIn(p, study, project.createdBy)) throw problems.forbidden(`this token does not grant voting in study "${studyId}"`);
  return { study, project };
}
