/**
 * After a benchmark run (server stopped): did the lease engine hand anything out twice? Checked
 * from the clients' records and from the database itself, whose task_events and image_workers the
 * triggers of migration 0003 write in the same statement as each lease.
 */
import { DatabaseSync } from "node:sqlite";

/** A lease as a client saw it. */
export interface Lease {
  taskId: string;
  imageId: string;
  subject: string;
  token: string;
}

export interface DuplicateReport {
  clientLeases: number;
  /** A task id two clients (or one, twice) were given. */
  clientTaskTwice: number;
  /** A person given two tasks of one image. */
  clientPersonTwice: number;
  /** Round-1 edit tasks of the projects leased now, or submitted (they were leased). */
  dbLeased: number;
  /** Tasks that went to 'leased' more than once (task_events). */
  dbLeasedTwice: number;
  /** (image, round, person) with more than one edit task leased, over the whole history (task_events). */
  dbPersonTwice: number;
  dbImageWorkers: number;
  /** A leased or submitted edit task without the image_workers row of its holder: the "once per image" guard did not hold it. */
  dbWithoutImageWorker: number;
  /** Client leases whose task the database says another owner or token holds. */
  ownerMismatch: number;
  /** Every count above that must be 0. */
  total: number;
}

export function checkLeases(file: string, projects: string[], leases: Lease[], { submitted = false } = {}): DuplicateReport {
  const byTask = new Map<string, number>();
  const byPerson = new Map<string, number>();
  for (const l of leases) {
    byTask.set(l.taskId, (byTask.get(l.taskId) ?? 0) + 1);
    const k = `${l.subject}\u0000${l.imageId}`;
    byPerson.set(k, (byPerson.get(k) ?? 0) + 1);
  }
  const clientTaskTwice = [...byTask.values()].filter((c) => c > 1).length;
  const clientPersonTwice = [...byPerson.values()].filter((c) => c > 1).length;

  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const inProjects = `project_id IN (SELECT value FROM json_each(?))`;
    const ids = JSON.stringify(projects);
    const one = (q: string, ...p: (string | number)[]) => Number((db.prepare(q).get(...p) as { n: number }).n);
    // A submitted task keeps its lease owner and token (the submission names them).
    const held = submitted ? "status IN ('leased', 'submitted', 'accepted')" : "status = 'leased'";
    const dbLeased = one(`SELECT COUNT(*) AS n FROM tasks WHERE ${inProjects} AND round = 1 AND kind = 'edit' AND ${held}`, ids);
    const dbLeasedTwice = one("SELECT COUNT(*) AS n FROM (SELECT task_id FROM task_events WHERE to_status = 'leased' GROUP BY task_id HAVING COUNT(*) > 1)");
    const dbPersonTwice = one(
      `SELECT COUNT(*) AS n FROM (
         SELECT image_id, round, subject FROM task_events WHERE to_status = 'leased' AND kind = 'edit'
         GROUP BY image_id, round, subject HAVING COUNT(DISTINCT task_id) > 1)`,
    );
    const dbImageWorkers = one("SELECT COUNT(*) AS n FROM image_workers");
    const dbWithoutImageWorker = one(
      `SELECT COUNT(*) AS n FROM tasks t WHERE t.${inProjects} AND t.round = 1 AND t.kind = 'edit' AND t.${held}
         AND NOT EXISTS (SELECT 1 FROM image_workers w WHERE w.task_id = t.id AND w.subject = t.lease_owner)`,
      ids,
    );
    const owners = new Map<string, { owner: string; token: string }>();
    for (const row of db.prepare(`SELECT id, lease_owner, lease_token FROM tasks WHERE ${inProjects} AND round = 1 AND kind = 'edit' AND ${held}`).all(ids) as {
      id: string;
      lease_owner: string;
      lease_token: string;
    }[]) {
      owners.set(row.id, { owner: row.lease_owner, token: row.lease_token });
    }
    const ownerMismatch = leases.filter((l) => owners.get(l.taskId)?.owner !== l.subject || owners.get(l.taskId)?.token !== l.token).length;
    return {
      clientLeases: leases.length,
      clientTaskTwice,
      clientPersonTwice,
      dbLeased,
      dbLeasedTwice,
      dbPersonTwice,
      dbImageWorkers,
      dbWithoutImageWorker,
      ownerMismatch,
      total: clientTaskTwice + clientPersonTwice + dbLeasedTwice + dbPersonTwice + dbWithoutImageWorker + ownerMismatch,
    };
  } finally {
    db.close();
  }
}

export function duplicateLines(d: DuplicateReport): string[] {
  return [
    `duplicates       leased twice: client ${d.clientTaskTwice}, db ${d.dbLeasedTwice};  person twice on an image: client ${d.clientPersonTwice}, db ${d.dbPersonTwice};  ` +
      `leased without its image_workers row: ${d.dbWithoutImageWorker};  client lease ≠ db owner/token: ${d.ownerMismatch}`,
    `                 leases seen by clients ${d.clientLeases}, held in db ${d.dbLeased}, image_workers rows ${d.dbImageWorkers}`,
  ];
}
