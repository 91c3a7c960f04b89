ALTER TABLE `tasks` ADD `hold_until` integer;--> statement-breakpoint
CREATE INDEX `tasks_held_draft` ON `tasks` (`start_key`) WHERE "tasks"."status" = 'held';--> statement-breakpoint
CREATE INDEX `tasks_held_until` ON `tasks` (`hold_until`) WHERE "tasks"."status" = 'held';