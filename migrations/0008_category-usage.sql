CREATE TABLE `category_usage` (
	`project_id` text NOT NULL,
	`category_id` integer NOT NULL,
	`segments` integer NOT NULL,
	PRIMARY KEY(`project_id`, `category_id`)
);
--> statement-breakpoint
-- Counted once here from what is already ingested; from now on each ingest's batch keeps it.
INSERT INTO `category_usage` (`project_id`, `category_id`, `segments`)
SELECT i.project_id, s.category_id, count(*) FROM segments s JOIN images i ON i.id = s.image_id GROUP BY i.project_id, s.category_id;
