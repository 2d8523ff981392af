-- Reports become data (counts, the most common failure replies, skipped slots)
-- that the pages render in the reader's language, instead of English sentences.
-- Reports written before are rebuilt from the run's counts and its deliveries.
ALTER TABLE runs ADD COLUMN report_data JSONB;

UPDATE runs r SET report_data = jsonb_build_object(
    'total', r.recipients,
    'sent', r.sent,
    'failed', r.failed,
    'cancelled', r.cancelled,
    'skipped_slots', r.skipped_slots,
    'failures', COALESCE((
        SELECT jsonb_agg(jsonb_build_object('reply', f.reply, 'count', f.n) ORDER BY f.n DESC, f.reply)
        FROM (
            SELECT COALESCE(d.last_reply, '') AS reply, count(*) AS n
            FROM deliveries d WHERE d.run_id = r.id AND d.state = 'failed'
            GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5
        ) f), '[]'::jsonb),
    'more_failures', (
        SELECT count(DISTINCT COALESCE(d.last_reply, '')) > 5
        FROM deliveries d WHERE d.run_id = r.id AND d.state = 'failed')
)
WHERE r.report IS NOT NULL;

ALTER TABLE runs DROP COLUMN report;
ALTER TABLE runs RENAME COLUMN report_data TO report;
