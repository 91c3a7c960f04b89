CREATE TABLE `adjudications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`image_id` text NOT NULL,
	`segment_id` integer NOT NULL,
	`text` text,
	`previous_text` text,
	`reason` text,
	`subject` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `adjudications_image` ON `adjudications` (`image_id`,`id`);--> statement-breakpoint
CREATE TABLE `consolidations` (
	`image_id` text NOT NULL,
	`round` integer NOT NULL,
	`submission_ids` text NOT NULL,
	`agreement` real,
	`at` integer NOT NULL,
	PRIMARY KEY(`image_id`, `round`)
);
--> statement-breakpoint
CREATE TABLE `idempotency` (
	`subject` text NOT NULL,
	`key` text NOT NULL,
	`route` text NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer NOT NULL,
	`response` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`subject`, `key`)
);
--> statement-breakpoint
CREATE TABLE `image_workers` (
	`image_id` text NOT NULL,
	`round` integer NOT NULL,
	`subject` text NOT NULL,
	`task_id` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`image_id`, `round`, `subject`)
);
--> statement-breakpoint
CREATE TABLE `region_texts` (
	`image_id` text NOT NULL,
	`segment_id` integer NOT NULL,
	`text` text,
	`source` text NOT NULL,
	`submission_id` text,
	`agreement` real,
	`version` integer NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`image_id`, `segment_id`)
);
--> statement-breakpoint
CREATE TABLE `reviews` (
	`id` text PRIMARY KEY NOT NULL,
	`submission_id` text NOT NULL,
	`task_id` text,
	`image_id` text NOT NULL,
	`subject` text NOT NULL,
	`decision` text NOT NULL,
	`reason` text,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reviews_submission` ON `reviews` (`submission_id`);--> statement-breakpoint
CREATE INDEX `reviews_image` ON `reviews` (`image_id`);--> statement-breakpoint
CREATE TABLE `submissions` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`project_id` text NOT NULL,
	`image_id` text NOT NULL,
	`round` integer NOT NULL,
	`subject` text NOT NULL,
	`lease_token` text NOT NULL,
	`draft_key` text,
	`draft_source` text NOT NULL,
	`draft_model` text,
	`draft_prompt` text,
	`regions` text NOT NULL,
	`effort` text NOT NULL,
	`leased_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`active_seconds` integer,
	`submitted_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `submissions_task` ON `submissions` (`task_id`);--> statement-breakpoint
CREATE INDEX `submissions_image` ON `submissions` (`image_id`,`round`);--> statement-breakpoint
CREATE INDEX `submissions_subject` ON `submissions` (`subject`,`id`);--> statement-breakpoint
CREATE TABLE `task_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` text NOT NULL,
	`image_id` text NOT NULL,
	`round` integer NOT NULL,
	`kind` text NOT NULL,
	`from_status` text NOT NULL,
	`to_status` text NOT NULL,
	`subject` text,
	`lease_expires` integer,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_events_image` ON `task_events` (`image_id`,`id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`image_id` text NOT NULL,
	`round` integer NOT NULL,
	`kind` text NOT NULL,
	`slot` integer NOT NULL,
	`status` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`submission_id` text,
	`exclude_subject` text DEFAULT '' NOT NULL,
	`rework_of` text,
	`rework_reason` text,
	`lease_owner` text,
	`lease_token` text,
	`start_key` text,
	`start_source` text,
	`lease_expires` integer,
	`leased_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `tasks_queue` ON `tasks` (`project_id`,`round`,`kind`,`status`,`priority`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_expiry` ON `tasks` (`status`,`lease_expires`);--> statement-breakpoint
CREATE INDEX `tasks_image` ON `tasks` (`image_id`,`round`,`kind`);--> statement-breakpoint
CREATE INDEX `tasks_owner` ON `tasks` (`lease_owner`,`status`);