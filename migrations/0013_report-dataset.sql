-- Dataset statistics of the final captions (words, masks, grounded masks, coverage, nouns), kept by trigger as each
-- caption becomes final or changes: a changed caption takes its old figures out and puts its new ones in.
CREATE TRIGGER report_dataset_on_final AFTER INSERT ON final_captions
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_captions', '', '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_words', '', '', 1 * COALESCE(json_extract(NEW.stats, '$.words'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_masks', '', '', 1 * COALESCE(json_extract(NEW.stats, '$.masks'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_grounded', '', '', 1 * COALESCE(json_extract(NEW.stats, '$.groundedMasks'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_segments', '', '', 1 * COALESCE(json_extract(NEW.coverage, '$.segments'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_things', '', '', 1 * COALESCE(json_extract(NEW.coverage, '$.things'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_area', '', '', 1 * COALESCE(json_extract(NEW.coverage, '$.area'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_words_bucket', CASE WHEN COALESCE(json_extract(NEW.stats, '$.words'), 0) >= 400 THEN 'inf' ELSE CAST((CAST(COALESCE(json_extract(NEW.stats, '$.words'), 0) AS INTEGER) / 50 + 1) * 50 AS TEXT) END, '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_segments_bucket', CAST(MIN(10, CAST(COALESCE(json_extract(NEW.coverage, '$.segments'), 0) * 10 AS INTEGER) + 1) * 10 AS TEXT), '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_area_bucket', CAST(MIN(10, CAST(COALESCE(json_extract(NEW.coverage, '$.area'), 0) * 10 AS INTEGER) + 1) * 10 AS TEXT), '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'noun', n.value, '', 1 * COUNT(*) FROM json_each(NEW.stats, '$.nouns') n WHERE n.value IS NOT NULL AND n.value != '' GROUP BY n.value
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
--> statement-breakpoint
CREATE TRIGGER report_dataset_on_change AFTER UPDATE OF stats, coverage ON final_captions
WHEN NEW.stats IS NOT OLD.stats OR NEW.coverage IS NOT OLD.coverage
BEGIN
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_captions', '', '', -1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_words', '', '', -1 * COALESCE(json_extract(OLD.stats, '$.words'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_masks', '', '', -1 * COALESCE(json_extract(OLD.stats, '$.masks'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_grounded', '', '', -1 * COALESCE(json_extract(OLD.stats, '$.groundedMasks'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_cov_segments', '', '', -1 * COALESCE(json_extract(OLD.coverage, '$.segments'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_cov_things', '', '', -1 * COALESCE(json_extract(OLD.coverage, '$.things'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_cov_area', '', '', -1 * COALESCE(json_extract(OLD.coverage, '$.area'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_words_bucket', CASE WHEN COALESCE(json_extract(OLD.stats, '$.words'), 0) >= 400 THEN 'inf' ELSE CAST((CAST(COALESCE(json_extract(OLD.stats, '$.words'), 0) AS INTEGER) / 50 + 1) * 50 AS TEXT) END, '', -1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_cov_segments_bucket', CAST(MIN(10, CAST(COALESCE(json_extract(OLD.coverage, '$.segments'), 0) * 10 AS INTEGER) + 1) * 10 AS TEXT), '', -1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'ds_cov_area_bucket', CAST(MIN(10, CAST(COALESCE(json_extract(OLD.coverage, '$.area'), 0) * 10 AS INTEGER) + 1) * 10 AS TEXT), '', -1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT OLD.project_id, 'noun', n.value, '', -1 * COUNT(*) FROM json_each(OLD.stats, '$.nouns') n WHERE n.value IS NOT NULL AND n.value != '' GROUP BY n.value
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_captions', '', '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_words', '', '', 1 * COALESCE(json_extract(NEW.stats, '$.words'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_masks', '', '', 1 * COALESCE(json_extract(NEW.stats, '$.masks'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_grounded', '', '', 1 * COALESCE(json_extract(NEW.stats, '$.groundedMasks'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_segments', '', '', 1 * COALESCE(json_extract(NEW.coverage, '$.segments'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_things', '', '', 1 * COALESCE(json_extract(NEW.coverage, '$.things'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_area', '', '', 1 * COALESCE(json_extract(NEW.coverage, '$.area'), 0) WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_words_bucket', CASE WHEN COALESCE(json_extract(NEW.stats, '$.words'), 0) >= 400 THEN 'inf' ELSE CAST((CAST(COALESCE(json_extract(NEW.stats, '$.words'), 0) AS INTEGER) / 50 + 1) * 50 AS TEXT) END, '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_segments_bucket', CAST(MIN(10, CAST(COALESCE(json_extract(NEW.coverage, '$.segments'), 0) * 10 AS INTEGER) + 1) * 10 AS TEXT), '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'ds_cov_area_bucket', CAST(MIN(10, CAST(COALESCE(json_extract(NEW.coverage, '$.area'), 0) * 10 AS INTEGER) + 1) * 10 AS TEXT), '', 1 WHERE 1
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
  INSERT INTO report_counters (project_id, metric, dim, day, value)
  SELECT NEW.project_id, 'noun', n.value, '', 1 * COUNT(*) FROM json_each(NEW.stats, '$.nouns') n WHERE n.value IS NOT NULL AND n.value != '' GROUP BY n.value
  ON CONFLICT (project_id, metric, dim, day) DO UPDATE SET value = value + excluded.value;
END;
