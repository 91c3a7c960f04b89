DROP INDEX `tasks_queue`;--> statement-breakpoint
DROP INDEX `tasks_expiry`;--> statement-breakpoint
DROP INDEX `tasks_owner`;--> statement-breakpoint
CREATE INDEX `tasks_open_queue` ON `tasks` (`project_id`,`round`,`kind`,`priority`,`id`) WHERE "tasks"."status" = 'open';--> statement-breakpoint
CREATE INDEX `tasks_lease_expiry` ON `tasks` (`lease_expires`) WHERE "tasks"."status" = 'leased';--> statement-breakpoint
CREATE INDEX `tasks_lease_owner` ON `tasks` (`lease_owner`,`id`) WHERE "tasks"."status" = 'leased';