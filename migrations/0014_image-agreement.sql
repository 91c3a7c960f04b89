CREATE TABLE `image_agreement` (
	`image_id` text PRIMARY KEY NOT NULL,
	`project_id` text NOT NULL,
	`annotators` integer NOT NULL,
	`record` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `image_agreement_project` ON `image_agreement` (`project_id`,`image_id`);
--> statement-breakpoint
-- Agreement sums for the report, moved by the insert of each image's agreement record.
CREATE TRIGGER report_agreement_on_insert AFTER INSERT ON image_agreement
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_n', 'thing', '', json_extract(NEW.record, '$.kinds.thing.n') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu1', 'thing', '', json_extract(NEW.record, '$.kinds.thing.bleu1') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu2', 'thing', '', json_extract(NEW.record, '$.kinds.thing.bleu2') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu3', 'thing', '', json_extract(NEW.record, '$.kinds.thing.bleu3') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu4', 'thing', '', json_extract(NEW.record, '$.kinds.thing.bleu4') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_rouge_l', 'thing', '', json_extract(NEW.record, '$.kinds.thing.rouge_l') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_cider_d', 'thing', '', json_extract(NEW.record, '$.kinds.thing.cider_d') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_edit_distance', 'thing', '', json_extract(NEW.record, '$.kinds.thing.edit_distance') WHERE json_extract(NEW.record, '$.kinds.thing.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_n', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.n') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu1', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.bleu1') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu2', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.bleu2') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu3', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.bleu3') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_bleu4', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.bleu4') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_rouge_l', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.rouge_l') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_cider_d', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.cider_d') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_edit_distance', 'stuff', '', json_extract(NEW.record, '$.kinds.stuff.edit_distance') WHERE json_extract(NEW.record, '$.kinds.stuff.n') > 0
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_images', '', '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_alpha_sum', '', '', json_extract(NEW.record, '$.alpha') WHERE json_extract(NEW.record, '$.alpha') IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_alpha_n', '', '', 1 WHERE json_extract(NEW.record, '$.alpha') IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_pair_images', json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b'), '', 1 FROM json_each(NEW.record, '$.pairs') x WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_pair_shared', json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b'), '', json_extract(x.value, '$.shared') FROM json_each(NEW.record, '$.pairs') x WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_pair_same', json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b'), '', json_extract(x.value, '$.same') FROM json_each(NEW.record, '$.pairs') x WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_pair_kappa_sum', json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b'), '', json_extract(x.value, '$.kappa') FROM json_each(NEW.record, '$.pairs') x WHERE json_extract(x.value, '$.kappa') IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_pair_kappa_n', json_extract(x.value, '$.a') || '|' || json_extract(x.value, '$.b'), '', 1 FROM json_each(NEW.record, '$.pairs') x WHERE json_extract(x.value, '$.kappa') IS NOT NULL
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT NEW.project_id, json_extract(x.value, '$.subject'), 1, 'peer_n', json_extract(x.value, '$.n') FROM json_each(NEW.record, '$.people') x WHERE json_extract(x.value, '$.n') > 0
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT NEW.project_id, json_extract(x.value, '$.subject'), 1, 'peer_bleu4', json_extract(x.value, '$.bleu4') FROM json_each(NEW.record, '$.people') x WHERE json_extract(x.value, '$.bleu4') > 0
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT NEW.project_id, json_extract(x.value, '$.subject'), 1, 'peer_rouge_l', json_extract(x.value, '$.rouge_l') FROM json_each(NEW.record, '$.people') x WHERE json_extract(x.value, '$.rouge_l') > 0
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT NEW.project_id, json_extract(x.value, '$.subject'), 1, 'consolidated', json_extract(x.value, '$.consolidated') FROM json_each(NEW.record, '$.people') x WHERE json_extract(x.value, '$.consolidated') > 0
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO annotator_counters (project_id, subject, round, metric, value)
  SELECT NEW.project_id, json_extract(x.value, '$.subject'), 1, 'consolidated_same', json_extract(x.value, '$.consolidated_same') FROM json_each(NEW.record, '$.people') x WHERE json_extract(x.value, '$.consolidated_same') > 0
  ON CONFLICT (project_id, subject, round, metric) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'agree_member_images', json_extract(x.value, '$.subject'), '', 1 FROM json_each(NEW.record, '$.people') x WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
