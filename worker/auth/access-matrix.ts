/**
 * Who may call which operation on what: the one table of the API's access rules. The route guards
 * enforce them (auth/access.ts, routes/guards.ts, the lease and ballot checks); this table states
 * them, the OpenAPI document prints them with every operation (`x-access` and a line of its
 * description), and test/routes/access-matrix.test.ts calls every operation as every kind of
 * principal and fails where the server and the table disagree.
 *
 * The principals are seen from one project's objects: its lead, annotators (the one whose lease or
 * submission it is, and another), reviewer and voter; another project's lead and annotator (an
 * object of a project not theirs, reached by id); a crowd participant of one of its studies (the
 * one whose ballot it is, and another); an admin; and no token at all.
 */
export const PRINCIPALS = [
  "anonymous",
  "admin",
  "lead",
  "lead-other-project",
  "annotator",
  "annotator-other-person",
  "annotator-other-project",
  "reviewer",
  "voter",
  "participant",
  "participant-other",
] as const;
export type PrincipalKind = (typeof PRINCIPALS)[number];

/**
 * Allowed, or the status a denial answers: 401 no or bad token, 403 not yours to do, 404 not yours
 * to see, 409 a lease that is not yours (from its holder's side, a lease lost to expiry and taken by
 * someone else looks the same, and its front end must tell that apart from a bug: `reason` says which).
 */
export type Outcome = "allow" | 401 | 403 | 404 | 409;
export type AccessRow = Record<PrincipalKind, Outcome>;

interface Policy {
  /** One sentence for the operation's description. */
  rule: string;
  row: AccessRow;
}

const row = (allowed: readonly PrincipalKind[], denied: Partial<Record<PrincipalKind, Outcome>> = {}, fallback: Outcome = 403): AccessRow => {
  const out = {} as AccessRow;
  for (const p of PRINCIPALS) out[p] = allowed.includes(p) ? "allow" : (denied[p] ?? (p === "anonymous" ? 401 : fallback));
  return out;
};

const MEMBERS = ["admin", "lead", "annotator", "annotator-other-person", "reviewer"] as const;
const LEADS = ["admin", "lead"] as const;

const POLICIES = {
  public: { rule: "Anyone, with or without a token.", row: row([...PRINCIPALS]) },
  anyLead: { rule: "Any lead or admin; the creating lead may then act on the project.", row: row(["admin", "lead", "lead-other-project"]) },
  signedIn: {
    rule: "Any valid token; the answer holds only what that token may see (a voter's lists are empty).",
    row: row(PRINCIPALS.filter((p) => p !== "anonymous")),
  },
  members: {
    rule: "The project's admins, leads, annotators and reviewers (403 for other projects' principals and for voters: a voter sees only its ballots, or a study would not be blind).",
    row: row(MEMBERS),
  },
  leads: {
    rule: "The project's leads and admins (403 for everyone else).",
    row: row(LEADS),
  },
  claims: {
    rule: "Edit tasks: the project's annotators, leads and admins; review tasks: its reviewers, leads and admins (403 for everyone else).",
    row: row(["admin", "lead", "annotator", "annotator-other-person"]),
  },
  leaseHolder: {
    rule: "Only the principal holding the task's lease, with its lease token: anyone else of the project gets 409 `lease-not-held` (reason `leased-by-someone-else`), other projects' principals and voters 403.",
    row: row(["annotator"], { admin: 409, lead: 409, "annotator-other-person": 409, reviewer: 409 }),
  },
  submissionReaders: {
    rule: "The project's reviewers, leads and admins, and the annotator who wrote it (403 for other annotators, voters and other projects' principals).",
    row: row(["admin", "lead", "annotator", "reviewer"]),
  },
  leadsAndReviewers: {
    rule: "The project's reviewers, leads and admins (403 for annotators, voters and other projects' principals).",
    row: row(["admin", "lead", "reviewer"]),
  },
  reviewers: {
    rule: "The project's reviewers, leads and admins (403 for annotators, voters and other projects' principals).",
    row: row(["admin", "lead", "reviewer"]),
  },
  studyVoters: {
    rule: "The study's voters: crowd participants whose token names the study, and the project's voters (403 for everyone else: leads and annotators do not vote).",
    row: row(["voter", "participant", "participant-other"]),
  },
  ballotHolder: {
    rule: "Only the voter holding the ballot, with its lease token; to anyone else the ballot does not exist (404).",
    row: row(["participant"], {}, 404),
  },
  join: {
    rule: "Anyone holding an invite of the study (the invite id is the credential); no token needed.",
    row: row([...PRINCIPALS]),
  },
} satisfies Record<string, Policy>;
type PolicyName = keyof typeof POLICIES;

/** Every operation of the API, by `METHOD /path` as the OpenAPI document spells it. */
const TABLE: Record<string, PolicyName> = {
  "GET /healthz": "public",
  "POST /v1/projects": "anyLead",
  "GET /v1/projects": "signedIn",
  "GET /v1/projects/{projectId}": "members",
  "PATCH /v1/projects/{projectId}": "leads",
  "POST /v1/projects/{projectId}/images": "leads",
  "GET /v1/projects/{projectId}/images": "members",
  "GET /v1/images/{imageId}": "members",
  "GET /v1/images/{imageId}/files/{kind}": "members",
  "GET /v1/images/{imageId}/drafts/{round}": "members",
  "POST /v1/projects/{projectId}/draft-jobs": "leads",
  "GET /v1/projects/{projectId}/draft-jobs/{jobId}": "leads",
  "POST /v1/projects/{projectId}/tasks/next": "claims",
  "POST /v1/tasks/{taskId}/heartbeat": "leaseHolder",
  "POST /v1/tasks/{taskId}/release": "leaseHolder",
  "POST /v1/tasks/{taskId}/submissions": "leaseHolder",
  "POST /v1/submissions/{submissionId}/reviews": "reviewers",
  "GET /v1/submissions/{submissionId}": "submissionReaders",
  "GET /v1/images/{imageId}/history": "leadsAndReviewers",
  "GET /v1/me/tasks": "signedIn",
  "POST /v1/images/{imageId}/regions/{segmentId}/adjudication": "leads",
  "GET /v1/images/{imageId}/caption": "members",
  "GET /v1/projects/{projectId}/captions": "members",
  "POST /v1/images/{imageId}/caption/rework": "leads",
  "POST /v1/projects/{projectId}/captions/rework": "leads",
  "GET /v1/projects/{projectId}/exports/{format}": "leads",
  "POST /v1/projects/{projectId}/exports": "leads",
  "GET /v1/projects/{projectId}/exports/jobs/{jobId}": "leads",
  "GET /v1/projects/{projectId}/exports/jobs/{jobId}/{file}": "leads",
  "PUT /v1/projects/{projectId}/caption-sets/{name}": "leads",
  "GET /v1/projects/{projectId}/caption-sets": "leads",
  "POST /v1/projects/{projectId}/studies": "leads",
  "GET /v1/projects/{projectId}/studies": "leads",
  "GET /v1/studies/{studyId}": "leads",
  "PATCH /v1/studies/{studyId}": "leads",
  "POST /v1/studies/{studyId}/generate": "leads",
  "POST /v1/studies/{studyId}/open": "leads",
  "POST /v1/studies/{studyId}/close": "leads",
  "GET /v1/studies/{studyId}/pairs": "leads",
  "POST /v1/studies/{studyId}/invites": "leads",
  "GET /v1/studies/{studyId}/invites": "leads",
  "POST /v1/studies/{studyId}/participants": "join",
  "GET /v1/studies/{studyId}/voters": "leads",
  "POST /v1/studies/{studyId}/exclusions": "leads",
  "POST /v1/studies/{studyId}/ballots/next": "studyVoters",
  "POST /v1/ballots/{ballotId}/vote": "ballotHolder",
  "POST /v1/ballots/{ballotId}/release": "ballotHolder",
  "GET /v1/studies/{studyId}/me": "studyVoters",
  "GET /v1/studies/{studyId}/results": "leads",
  "GET /v1/studies/{studyId}/votes": "leads",
  "GET /v1/projects/{projectId}/report": "leads",
  "POST /v1/projects/{projectId}/report/rebuild": "leads",
  "GET /v1/projects/{projectId}/report/annotators": "leads",
  "GET /v1/projects/{projectId}/report/dataset": "leads",
  "GET /v1/projects/{projectId}/report/agreement": "leads",
};

export const ACCESS: Record<string, AccessRow> = Object.fromEntries(Object.entries(TABLE).map(([op, policy]) => [op, POLICIES[policy].row]));

export function accessOf(operation: string): AccessRow {
  const found = ACCESS[operation];
  if (!found) throw new Error(`no access rule for ${operation}: add it to worker/auth/access-matrix.ts`);
  return found;
}

/** The rule of an operation in words, for its OpenAPI description. */
export function accessRuleOf(operation: string): string | undefined {
  const policy = TABLE[operation];
  return policy ? POLICIES[policy].rule : undefined;
}
