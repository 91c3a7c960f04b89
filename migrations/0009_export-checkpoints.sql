ALTER TABLE `export_jobs` ADD `lines` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `cursor` text;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `upload_id` text;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `parts` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `carry_key` text;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `hash_state` text;--> statement-breakpoint
ALTER TABLE `export_jobs` ADD `peak_statements` integer DEFAULT 0 NOT NULL;