CREATE TABLE `consolidations_due` (
	`image_id` text PRIMARY KEY NOT NULL,
	`marker` text NOT NULL,
	`subject` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `consolidations_due_at` ON `consolidations_due` (`at`);--> statement-breakpoint
ALTER TABLE `projects` ADD `write_id` text;--> statement-breakpoint
ALTER TABLE `region_texts` ADD `write_id` text;--> statement-breakpoint
-- A submission needs the live lease AND its owner: a token alone, however it was learnt, is not enough.
DROP TRIGGER `submissions_require_lease`;--> statement-breakpoint
CREATE TRIGGER submissions_require_lease BEFORE INSERT ON submissions
WHEN NOT EXISTS (
  SELECT 1 FROM tasks
  WHERE id = NEW.task_id AND status = 'leased' AND lease_token = NEW.lease_token AND lease_owner = NEW.subject AND lease_expires >= NEW.submitted_at
)
BEGIN
  SELECT RAISE(ABORT, 'lease_not_held');
END;
