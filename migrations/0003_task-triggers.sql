-- Invariants the lease engine relies on, kept by the database itself so that every code path
-- (claim, heartbeat, release, sweep, submit, review) obeys them within its own statement.

-- Every state change of a task is logged in the statement that makes it (history, reports).
CREATE TRIGGER task_events_on_change AFTER UPDATE OF status, lease_token ON tasks
WHEN NEW.status IS NOT OLD.status OR NEW.lease_token IS NOT OLD.lease_token
BEGIN
  INSERT INTO task_events (task_id, image_id, round, kind, from_status, to_status, subject, lease_expires, at)
  VALUES (NEW.id, NEW.image_id, NEW.round, NEW.kind, OLD.status, NEW.status,
          COALESCE(NEW.lease_owner, OLD.lease_owner), NEW.lease_expires, NEW.updated_at);
END;
--> statement-breakpoint
-- Whoever leases an edit task of an image holds that image for the round: the claim's NOT EXISTS
-- reads this, and the primary key refuses a second holder even if a claim raced past it.
CREATE TRIGGER image_workers_on_lease AFTER UPDATE OF lease_token ON tasks
WHEN NEW.status = 'leased' AND NEW.kind = 'edit' AND NEW.lease_token IS NOT OLD.lease_token
BEGIN
  INSERT INTO image_workers (image_id, round, subject, task_id, at)
  VALUES (NEW.image_id, NEW.round, NEW.lease_owner, NEW.id, NEW.updated_at);
END;
--> statement-breakpoint
-- No submission without the live lease it claims to come from: a lease that expired, or that
-- someone else now holds, aborts the whole batch the submission is in.
CREATE TRIGGER submissions_require_lease BEFORE INSERT ON submissions
WHEN NOT EXISTS (
  SELECT 1 FROM tasks
  WHERE id = NEW.task_id AND status = 'leased' AND lease_token = NEW.lease_token AND lease_expires >= NEW.submitted_at
)
BEGIN
  SELECT RAISE(ABORT, 'lease_not_held');
END;
