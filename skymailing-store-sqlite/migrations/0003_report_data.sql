-- Reports become data (counts, the most common failure replies, skipped slots)
-- that the pages render in the reader's language, instead of English sentences.
-- Reports written before are rebuilt from the run's counts and its deliveries.
UPDATE runs SET report = json_object(
    'total', recipients,
    'sent', sent,
    'failed', failed,
    'cancelled', cancelled,
    'skipped_slots', skipped_slots,
    'failures', (
        SELECT json_group_array(json_object('reply', f.reply, 'count', f.n))
        FROM (
            SELECT COALESCE(d.last_reply, '') AS reply, count(*) AS n
            FROM deliveries d WHERE d.run_id = runs.id AND d.state = 'failed'
            GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5
        ) f),
    'more_failures', json((
        SELECT CASE WHEN count(DISTINCT COALESCE(d.last_reply, '')) > 5 THEN 'true' ELSE 'false' END
        FROM deliveries d WHERE d.run_id = runs.id AND d.state = 'failed'))
)
WHERE report IS NOT NULL;
