import { call } from "./api.ts";

export const claimNext = (token: string, project: string, kind: "edit" | "review" = "edit") =>
  call("POST", `/v1/projects/${project}/tasks/next`, { token, json: { round: 1, kind } });

/** A complete, valid round-1 submission: every region accepted as it started, or with `edits` applied. */
export function submissionBody(lease: any, edits: Record<number, string> = {}) {
  return {
    lease_token: lease.lease_token,
    regions: lease.start.texts.map((t: { segment_id: number; text: string }) =>
      edits[t.segment_id] !== undefined ? { segment_id: t.segment_id, action: "edited", text: edits[t.segment_id] } : { segment_id: t.segment_id, action: "accepted", text: t.text },
    ),
    active_seconds: 42,
  };
}

export const submit = (token: string, lease: any, body: unknown, key: string | null = crypto.randomUUID()) =>
  call("POST", `/v1/tasks/${lease.task_id}/submissions`, { token, json: body, headers: key ? { "idempotency-key": key } : {} });

export const review = (token: string, submissionId: string, decision: "accept" | "reject", reason?: string, key: string = crypto.randomUUID()) =>
  call("POST", `/v1/submissions/${submissionId}/reviews`, { token, json: { decision, ...(reason ? { reason } : {}) }, headers: { "idempotency-key": key } });
