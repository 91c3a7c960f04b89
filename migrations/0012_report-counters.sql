CREATE TABLE `annotator_counters` (
	`project_id` text NOT NULL,
	`subject` text NOT NULL,
	`round` integer NOT NULL,
	`metric` text NOT NULL,
	`value` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`project_id`, `subject`, `round`, `metric`)
);
--> statement-breakpoint
CREATE TABLE `report_counters` (
	`project_id` text NOT NULL,
	`metric` text NOT NULL,
	`dim` text DEFAULT '' NOT NULL,
	`day` text DEFAULT '' NOT NULL,
	`value` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`project_id`, `metric`, `dim`, `day`)
);
--> statement-breakpoint
ALTER TABLE `task_events` ADD `prev_lease_expires` integer;--> statement-breakpoint
-- The lease expiry a change ended is kept: it tells an expired lease from a released one when counters are rebuilt.
DROP TRIGGER task_events_on_change;
--> statement-breakpoint
CREATE TRIGGER task_events_on_change AFTER UPDATE OF status, lease_token ON tasks
WHEN NEW.status IS NOT OLD.status OR NEW.lease_token IS NOT OLD.lease_token
BEGIN
  INSERT INTO task_events (task_id, image_id, round, kind, from_status, to_status, subject, lease_expires, prev_lease_expires, at)
  VALUES (NEW.id, NEW.image_id, NEW.round, NEW.kind, OLD.status, NEW.status,
          COALESCE(NEW.lease_owner, OLD.lease_owner), NEW.lease_expires, OLD.lease_expires, NEW.updated_at);
END;
--> statement-breakpoint
-- Report counters, moved by the statement that makes each change (see schema/tables.ts: report_counters).
-- Gauges (`status:<s>` per round:kind, `draft_<status>` per round, `stale`) hold how many are in each state now; the rest only grow.
CREATE TRIGGER report_tasks_on_insert AFTER INSERT ON tasks
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'tasks_created' AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v UNION ALL SELECT NEW.project_id AS p, 'tasks_created' AS m, NEW.round || ':' || NEW.kind AS d, date((NEW.created_at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'status:' || NEW.status AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_tasks_on_change AFTER UPDATE OF status, lease_token ON tasks
WHEN NEW.status IS NOT OLD.status OR NEW.lease_token IS NOT OLD.lease_token
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'status:' || OLD.status AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, -1 AS v) WHERE (NEW.status IS NOT OLD.status) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'status:' || NEW.status AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v) WHERE (NEW.status IS NOT OLD.status) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'claimed' AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v UNION ALL SELECT NEW.project_id AS p, 'claimed' AS m, NEW.round || ':' || NEW.kind AS d, date((NEW.updated_at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (NEW.status = 'leased' AND NEW.lease_token IS NOT OLD.lease_token) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'expired' AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v UNION ALL SELECT NEW.project_id AS p, 'expired' AS m, NEW.round || ':' || NEW.kind AS d, date((NEW.updated_at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (OLD.status = 'leased' AND OLD.lease_expires < NEW.updated_at AND (NEW.status = 'open' OR (NEW.status = 'leased' AND NEW.lease_token IS NOT OLD.lease_token))) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'released' AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v UNION ALL SELECT NEW.project_id AS p, 'released' AS m, NEW.round || ':' || NEW.kind AS d, date((NEW.updated_at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (OLD.status = 'leased' AND NEW.status = 'open' AND OLD.lease_expires >= NEW.updated_at) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, NEW.status AS m, NEW.round || ':' || NEW.kind AS d, '' AS dd, 1 AS v UNION ALL SELECT NEW.project_id AS p, NEW.status AS m, NEW.round || ':' || NEW.kind AS d, date((NEW.updated_at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (NEW.status IS NOT OLD.status AND NEW.status IN ('submitted', 'accepted', 'rejected')) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_images_on_insert AFTER INSERT ON images
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'images' AS m, '' AS d, '' AS dd, 1 AS v UNION ALL SELECT NEW.project_id AS p, 'images' AS m, '' AS d, date((NEW.created_at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'segments' AS m, '' AS d, '' AS dd, NEW.segment_count AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_drafts_on_insert AFTER INSERT ON drafts
WHEN NEW.status IN ('ready', 'partial', 'failed')
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'draft_' || NEW.status AS m, NEW.round || '' AS d, '' AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_drafts_on_change AFTER UPDATE OF status ON drafts
WHEN NEW.status IS NOT OLD.status
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'draft_' || OLD.status AS m, NEW.round || '' AS d, '' AS dd, -1 AS v) WHERE (OLD.status IN ('ready', 'partial', 'failed')) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'draft_' || NEW.status AS m, NEW.round || '' AS d, '' AS dd, 1 AS v) WHERE (NEW.status IN ('ready', 'partial', 'failed')) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_vlm_calls_on_insert AFTER INSERT ON vlm_calls
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_calls' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_calls' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_failures' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_failures' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (NEW.outcome != 'ok') AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_retries' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_retries' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (NEW.attempt > 1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_tokens_in' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, '' AS dd, NEW.tokens_in AS v UNION ALL SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_tokens_in' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, NEW.tokens_in AS v) WHERE (NEW.tokens_in > 0) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_tokens_out' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, '' AS dd, NEW.tokens_out AS v UNION ALL SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = NEW.draft_key) AS p, 'vlm_tokens_out' AS m, NEW.provider || '|' || NEW.model || '|' || COALESCE((SELECT d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = NEW.draft_key), '') AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, NEW.tokens_out AS v) WHERE (NEW.tokens_out > 0) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_dead_letters_on_insert AFTER INSERT ON dead_letters
WHEN json_extract(NEW.body, '$.kind') = 'draft'
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = json_extract(NEW.body, '$.key')) AS p, 'vlm_dead_letters' AS m, (SELECT d.provider || '|' || d.model || '|' || d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = json_extract(NEW.body, '$.key')) AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM drafts d JOIN images i ON i.id = d.image_id WHERE d.key = json_extract(NEW.body, '$.key')) AS p, 'vlm_dead_letters' AS m, (SELECT d.provider || '|' || d.model || '|' || d.prompt_id || '@v' || d.prompt_version FROM drafts d WHERE d.key = json_extract(NEW.body, '$.key')) AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_consolidations_on_insert AFTER INSERT ON consolidations
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'consolidated' AS m, NEW.round || '' AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'consolidated' AS m, NEW.round || '' AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_finals_on_insert AFTER INSERT ON final_captions
WHEN NEW.stale != 0
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'stale' AS m, '' AS d, '' AS dd, NEW.stale AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_finals_on_change AFTER UPDATE OF stale ON final_captions
WHEN NEW.stale IS NOT OLD.stale
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'stale' AS m, '' AS d, '' AS dd, NEW.stale - OLD.stale AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_final_versions_on_insert AFTER INSERT ON final_caption_versions
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'final_versions' AS m, '' AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'final_versions' AS m, '' AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'finals' AS m, '' AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT i.project_id FROM images i WHERE i.id = NEW.image_id) AS p, 'finals' AS m, '' AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (NEW.version = 1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_votes_on_insert AFTER INSERT ON votes
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT (SELECT s.project_id FROM studies s WHERE s.id = NEW.study_id) AS p, 'votes' AS m, NEW.study_id AS d, '' AS dd, 1 AS v UNION ALL SELECT (SELECT s.project_id FROM studies s WHERE s.id = NEW.study_id) AS p, 'votes' AS m, NEW.study_id AS d, date((NEW.at) / 1000, 'unixepoch') AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_submissions_on_insert AFTER INSERT ON submissions
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'time_ms' AS m, NEW.round || '' AS d, '' AS dd, NEW.duration_ms AS v UNION ALL SELECT NEW.project_id AS p, 'time_ms' AS m, NEW.round || '' AS d, date((NEW.submitted_at) / 1000, 'unixepoch') AS dd, NEW.duration_ms AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT p, m, d, dd, v FROM (SELECT NEW.project_id AS p, 'time_bucket:' || CASE WHEN NEW.duration_ms < 15000 THEN '15' WHEN NEW.duration_ms < 30000 THEN '30' WHEN NEW.duration_ms < 60000 THEN '60' WHEN NEW.duration_ms < 120000 THEN '120' WHEN NEW.duration_ms < 300000 THEN '300' WHEN NEW.duration_ms < 600000 THEN '600' WHEN NEW.duration_ms < 1200000 THEN '1200' WHEN NEW.duration_ms < 3600000 THEN '3600' ELSE 'inf' END AS m, NEW.round || '' AS d, '' AS dd, 1 AS v) WHERE (1) AND p IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'tasks' AS m, 1 AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'time_ms' AS m, NEW.duration_ms AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'active_seconds' AS m, COALESCE(NEW.active_seconds, 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'active_known' AS m, NEW.active_seconds IS NOT NULL AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'edit_distance' AS m, COALESCE(json_extract(NEW.effort, '$.totalDistance'), 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'draft_words' AS m, COALESCE(json_extract(NEW.effort, '$.totalDraftWords'), 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'regions' AS m, COALESCE(json_extract(NEW.effort, '$.regions'), 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'regions_unchanged' AS m, COALESCE(json_extract(NEW.effort, '$.accepted'), 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'regions_skipped' AS m, COALESCE(json_extract(NEW.effort, '$.skipped'), 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'edit_rate_sum' AS m, COALESCE(json_extract(NEW.effort, '$.editRate'), 0) AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'last_active' AS m, NEW.submitted_at AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = MAX(value, excluded.value);
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT NEW.project_id AS p, NEW.subject AS s, NEW.round AS r, 'time_bucket:' || CASE WHEN NEW.duration_ms < 15000 THEN '15' WHEN NEW.duration_ms < 30000 THEN '30' WHEN NEW.duration_ms < 60000 THEN '60' WHEN NEW.duration_ms < 120000 THEN '120' WHEN NEW.duration_ms < 300000 THEN '300' WHEN NEW.duration_ms < 600000 THEN '600' WHEN NEW.duration_ms < 1200000 THEN '1200' WHEN NEW.duration_ms < 3600000 THEN '3600' ELSE 'inf' END AS m, 1 AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_reviews_on_insert AFTER INSERT ON reviews
BEGIN
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT (SELECT s.project_id FROM submissions s WHERE s.id = NEW.submission_id) AS p, (SELECT s.subject FROM submissions s WHERE s.id = NEW.submission_id) AS s, (SELECT s.round FROM submissions s WHERE s.id = NEW.submission_id) AS r, CASE NEW.decision WHEN 'accept' THEN 'accepted' ELSE 'rejected' END AS m, 1 AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT (SELECT s.project_id FROM submissions s WHERE s.id = NEW.submission_id) AS p, NEW.subject AS s, (SELECT s.round FROM submissions s WHERE s.id = NEW.submission_id) AS r, 'reviews' AS m, 1 AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT (SELECT s.project_id FROM submissions s WHERE s.id = NEW.submission_id) AS p, NEW.subject AS s, (SELECT s.round FROM submissions s WHERE s.id = NEW.submission_id) AS r, 'review_rejections' AS m, 1 AS v) WHERE (NEW.decision = 'reject') AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT p, s, r, m, v FROM (SELECT (SELECT s.project_id FROM submissions s WHERE s.id = NEW.submission_id) AS p, NEW.subject AS s, (SELECT s.round FROM submissions s WHERE s.id = NEW.submission_id) AS r, 'last_active' AS m, NEW.at AS v) WHERE (1) AND p IS NOT NULL AND s IS NOT NULL
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = MAX(value, excluded.value);
END;
