CREATE TABLE `categories` (
	`project_id` text NOT NULL,
	`category_id` integer NOT NULL,
	`name` text NOT NULL,
	`supercategory` text DEFAULT '' NOT NULL,
	`isthing` integer NOT NULL,
	`color` text,
	PRIMARY KEY(`project_id`, `category_id`),
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`external_id` text,
	`file_name` text NOT NULL,
	`width` integer NOT NULL,
	`height` integer NOT NULL,
	`format` text NOT NULL,
	`image_sha256` text NOT NULL,
	`image_bytes` integer NOT NULL,
	`panoptic_sha256` text NOT NULL,
	`panoptic_bytes` integer NOT NULL,
	`segment_count` integer NOT NULL,
	`labelled_area` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`project_id`) REFERENCES `projects`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_project_sha` ON `images` (`project_id`,`image_sha256`);--> statement-breakpoint
CREATE UNIQUE INDEX `images_project_external` ON `images` (`project_id`,`external_id`) WHERE "images"."external_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `images_project_id` ON `images` (`project_id`,`id`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`settings` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`image_count` integer DEFAULT 0 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `segments` (
	`image_id` text NOT NULL,
	`segment_id` integer NOT NULL,
	`category_id` integer NOT NULL,
	`iscrowd` integer NOT NULL,
	`area` integer NOT NULL,
	`bbox_x` integer NOT NULL,
	`bbox_y` integer NOT NULL,
	`bbox_w` integer NOT NULL,
	`bbox_h` integer NOT NULL,
	`mark_x` integer NOT NULL,
	`mark_y` integer NOT NULL,
	`mark_distance` real NOT NULL,
	PRIMARY KEY(`image_id`, `segment_id`),
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
