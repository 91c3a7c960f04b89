CREATE TABLE `ballots` (
	`id` text PRIMARY KEY NOT NULL,
	`study_id` text NOT NULL,
	`pair_id` text NOT NULL,
	`position` integer NOT NULL,
	`slot` integer NOT NULL,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`image_id` text NOT NULL,
	`a` text NOT NULL,
	`b` text NOT NULL,
	`assigned_to` text DEFAULT '' NOT NULL,
	`due_after` integer DEFAULT 0 NOT NULL,
	`repeat_of` text,
	`swapped` integer DEFAULT 0 NOT NULL,
	`lease_owner` text,
	`lease_token` text,
	`lease_expires` integer,
	`leased_at` integer,
	`vote_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`study_id`) REFERENCES `studies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ballots_open_queue` ON `ballots` (`study_id`,`position`,`slot`) WHERE "ballots"."status" = 'open' AND "ballots"."kind" = 'pair';--> statement-breakpoint
CREATE INDEX `ballots_personal` ON `ballots` (`study_id`,`assigned_to`,`due_after`) WHERE "ballots"."status" = 'open' AND "ballots"."kind" != 'pair';--> statement-breakpoint
CREATE INDEX `ballots_lease_expiry` ON `ballots` (`lease_expires`) WHERE "ballots"."status" = 'leased';--> statement-breakpoint
CREATE INDEX `ballots_held` ON `ballots` (`study_id`,`lease_owner`) WHERE "ballots"."status" = 'leased';--> statement-breakpoint
CREATE INDEX `ballots_voter` ON `ballots` (`study_id`,`lease_owner`,`kind`,`a`,`b`) WHERE "ballots"."lease_owner" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `ballots_assigned` ON `ballots` (`study_id`,`assigned_to`,`pair_id`);--> statement-breakpoint
CREATE INDEX `ballots_pair` ON `ballots` (`pair_id`);--> statement-breakpoint
CREATE TABLE `caption_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`lines` integer NOT NULL,
	`bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `caption_uploads_set` ON `caption_uploads` (`project_id`,`name`,`id`);--> statement-breakpoint
CREATE TABLE `imported_captions` (
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`image_id` text NOT NULL,
	`text` text NOT NULL,
	`upload_id` text NOT NULL,
	`line` integer NOT NULL,
	PRIMARY KEY(`project_id`, `name`, `image_id`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `pair_voters` (
	`pair_id` text NOT NULL,
	`voter` text NOT NULL,
	`ballot_id` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`pair_id`, `voter`)
);
--> statement-breakpoint
CREATE TABLE `studies` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`name` text NOT NULL,
	`question` text NOT NULL,
	`status` text NOT NULL,
	`design` text NOT NULL,
	`seed` integer NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`write_id` text,
	`pairs` integer DEFAULT 0 NOT NULL,
	`gold_pairs` integer DEFAULT 0 NOT NULL,
	`votes` integer DEFAULT 0 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`opened_at` integer,
	`closed_at` integer,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `studies_project` ON `studies` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `study_captions` (
	`study_id` text NOT NULL,
	`source` text NOT NULL,
	`image_id` text NOT NULL,
	`text` text NOT NULL,
	`spans` text,
	`origin` text NOT NULL,
	PRIMARY KEY(`study_id`, `source`, `image_id`),
	FOREIGN KEY (`study_id`) REFERENCES `studies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `study_describe_requests` (
	`study_id` text NOT NULL,
	`source` text NOT NULL,
	`image_id` text NOT NULL,
	`draft_key` text NOT NULL,
	PRIMARY KEY(`study_id`, `source`, `image_id`),
	FOREIGN KEY (`study_id`) REFERENCES `studies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `study_invites` (
	`id` text PRIMARY KEY NOT NULL,
	`study_id` text NOT NULL,
	`label` text DEFAULT '' NOT NULL,
	`participant_param` text NOT NULL,
	`completion_code` text NOT NULL,
	`max_participants` integer,
	`participants` integer DEFAULT 0 NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`study_id`) REFERENCES `studies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `study_invites_study` ON `study_invites` (`study_id`,`id`);--> statement-breakpoint
CREATE TABLE `study_pairs` (
	`id` text PRIMARY KEY NOT NULL,
	`study_id` text NOT NULL,
	`position` integer NOT NULL,
	`image_id` text NOT NULL,
	`a` text NOT NULL,
	`b` text NOT NULL,
	`kind` text NOT NULL,
	`gold_answer` text,
	`planted` text,
	FOREIGN KEY (`study_id`) REFERENCES `studies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `study_pairs_position` ON `study_pairs` (`study_id`,`position`);--> statement-breakpoint
CREATE INDEX `study_pairs_kind` ON `study_pairs` (`study_id`,`kind`,`position`);--> statement-breakpoint
CREATE TABLE `study_voters` (
	`study_id` text NOT NULL,
	`voter` text NOT NULL,
	`invite_id` text,
	`participant_id` text,
	`votes` integer DEFAULT 0 NOT NULL,
	`excluded` integer DEFAULT false NOT NULL,
	`excluded_reason` text,
	`joined_at` integer NOT NULL,
	`last_vote_at` integer,
	PRIMARY KEY(`study_id`, `voter`),
	FOREIGN KEY (`study_id`) REFERENCES `studies`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `voter_exclusions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`study_id` text NOT NULL,
	`voter` text NOT NULL,
	`action` text NOT NULL,
	`reason` text NOT NULL,
	`subject` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `voter_exclusions_study` ON `voter_exclusions` (`study_id`,`id`);--> statement-breakpoint
CREATE TABLE `votes` (
	`id` text PRIMARY KEY NOT NULL,
	`study_id` text NOT NULL,
	`ballot_id` text NOT NULL,
	`pair_id` text NOT NULL,
	`image_id` text NOT NULL,
	`kind` text NOT NULL,
	`a` text NOT NULL,
	`b` text NOT NULL,
	`left` text NOT NULL,
	`choice` text NOT NULL,
	`winner` text,
	`voter` text NOT NULL,
	`reasons` text NOT NULL,
	`active_ms` integer,
	`duration_ms` integer NOT NULL,
	`leased_at` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `votes_ballot` ON `votes` (`ballot_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `votes_pair_voter` ON `votes` (`pair_id`,`voter`) WHERE "votes"."kind" != 'repeat';--> statement-breakpoint
CREATE INDEX `votes_study` ON `votes` (`study_id`,`id`);--> statement-breakpoint
-- Whoever leases a shared ballot of a pair holds that pair: the claim's NOT EXISTS reads this, and
-- the primary key refuses a second holding even if two claims raced past it.
CREATE TRIGGER pair_voters_on_lease AFTER UPDATE OF lease_token ON ballots
WHEN NEW.status = 'leased' AND NEW.kind = 'pair' AND NEW.lease_token IS NOT OLD.lease_token
BEGIN
  INSERT INTO pair_voters (pair_id, voter, ballot_id, at)
  VALUES (NEW.pair_id, NEW.lease_owner, NEW.id, NEW.updated_at);
END;
