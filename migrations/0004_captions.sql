CREATE TABLE `final_caption_versions` (
	`image_id` text NOT NULL,
	`version` integer NOT NULL,
	`text` text NOT NULL,
	`spans` text NOT NULL,
	`submission_id` text NOT NULL,
	`draft_key` text,
	`region_versions` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`image_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `final_captions` (
	`image_id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`version` integer NOT NULL,
	`text` text NOT NULL,
	`spans` text NOT NULL,
	`submission_id` text NOT NULL,
	`draft_key` text,
	`region_versions` text NOT NULL,
	`coverage` text NOT NULL,
	`stats` text NOT NULL,
	`effort` text NOT NULL,
	`stale` integer DEFAULT false NOT NULL,
	`stale_reason` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `final_captions_project` ON `final_captions` (`project_id`,`image_id`);--> statement-breakpoint
CREATE INDEX `final_captions_stale` ON `final_captions` (`project_id`,`stale`,`image_id`);--> statement-breakpoint
ALTER TABLE `images` ADD `split` text;--> statement-breakpoint
ALTER TABLE `submissions` ADD `caption` text;--> statement-breakpoint
ALTER TABLE `submissions` ADD `start_caption` text;--> statement-breakpoint
ALTER TABLE `submissions` ADD `coverage` text;--> statement-breakpoint
ALTER TABLE `submissions` ADD `missing_reasons` text;