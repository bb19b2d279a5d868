-- 004: what the query API (doc/query-api.md) adds: a rollup of the
-- statistics by (node, month, network, country), so that the common queries
-- (no level, node or network level; details month, year, country; any date
-- range) read one row per group instead of every station-level row.
--
-- dataselect_rollup holds, per (node_id, month, network, country), the sums
-- of dataselect_stats' counters and the union of its client sets over every
-- raw row whose date falls in that month (monthly
-- rows dated the 1st and eidastats' daily rows alike).  The query API answers
-- from it exactly what it would from dataselect_stats: sums of sums are sums,
-- and the hll extension's union of unions is the union of the sets, byte for
-- byte (the representation of a union depends only on its content).
--
-- Keeping it exact, in the transaction that writes dataselect_stats, as its
-- last statement (both take a transaction-level advisory lock per node, so
-- two ingests of one node update the rollup in turn):
--  - an append (counters added, client sets united into existing rows) calls
--      SELECT eidastats_rollup_add(NODE_ID, dates, networks, countries, bytes,
--                                  nb_reqs, nb_successful_reqs, nb_failed_reqs, clients);
--    with the arrays of the rows it appended (the same values it wrote):
--    cost proportional to the payload, not to the month;
--  - a replacement (PUT), or any other change, calls
--      SELECT eidastats_rollup_refresh(NODE_ID, ARRAY[DAY, ...]::date[]);
--    with every month it touched (any day of the month will do): those
--    (node, month) groups are recomputed from dataselect_stats.  Rows written by
-- other programs (upstream's service, psql) are caught by
--   SELECT * FROM eidastats_rollup_verify();   -- the groups that differ
--   SELECT eidastats_rollup_rebuild();         -- remakes the whole table
-- This migration fills the table from the existing rows (one aggregate pass
-- over dataselect_stats).
--
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

CREATE TABLE IF NOT EXISTS dataselect_rollup (
	node_id integer NOT NULL REFERENCES nodes (id),
	month date NOT NULL,
	network varchar(6),
	country varchar(2),
	bytes bigint,
	nb_reqs bigint,
	nb_successful_reqs bigint,
	nb_failed_reqs bigint,
	clients hll(11, 5)
);

-- One row per group; NULL network or country (old data) is a group of its own.
CREATE UNIQUE INDEX IF NOT EXISTS dataselect_rollup_key
	ON dataselect_rollup (node_id, month, network, country) NULLS NOT DISTINCT;
-- Date ranges over all nodes (the usual public query).
CREATE INDEX IF NOT EXISTS dataselect_rollup_month ON dataselect_rollup (month);
-- The raw table's unique constraint starts with (node_id, date): refreshes
-- and node-filtered station-level queries use it.  Date ranges over all
-- nodes at station level use this one.
CREATE INDEX IF NOT EXISTS dataselect_stats_date ON dataselect_stats (date);

-- The rollup rows of dataselect_stats rows in [lo, hi) of one node (all nodes when p_node is NULL).
CREATE OR REPLACE FUNCTION eidastats_rollup_compute(p_node integer, lo date, hi date)
RETURNS TABLE (node_id integer, month date, network varchar(6), country varchar(2),
               bytes bigint, nb_reqs bigint, nb_successful_reqs bigint,
               nb_failed_reqs bigint, clients hll)
LANGUAGE sql STABLE AS $$
	SELECT s.node_id, date_trunc('month', s.date)::date, s.network, s.country,
	       sum(s.bytes)::bigint, sum(s.nb_reqs)::bigint, sum(s.nb_successful_reqs)::bigint,
	       sum(s.nb_failed_reqs)::bigint, hll_union_agg(s.clients)
	FROM dataselect_stats s
	WHERE (p_node IS NULL OR s.node_id = p_node)
	  AND (lo IS NULL OR s.date >= lo) AND (hi IS NULL OR s.date < hi)
	  AND s.node_id IS NOT NULL AND s.date IS NOT NULL
	GROUP BY 1, 2, 3, 4
$$;

-- Recomputes the (p_node, month) groups of the given months from dataselect_stats.
CREATE OR REPLACE FUNCTION eidastats_rollup_refresh(p_node integer, p_months date[])
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	m date;
BEGIN
	IF p_node IS NULL OR p_months IS NULL THEN
		RETURN;
	END IF;
	-- Two ingests of one node refresh one after the other; each statement
	-- below then sees the other's committed rows.
	PERFORM pg_advisory_xact_lock(hashtext('eidastats_rollup'), p_node);
	FOR m IN SELECT DISTINCT date_trunc('month', x)::date FROM unnest(p_months) x WHERE x IS NOT NULL
	LOOP
		DELETE FROM dataselect_rollup r WHERE r.node_id = p_node AND r.month = m;
		INSERT INTO dataselect_rollup
			SELECT * FROM eidastats_rollup_compute(p_node, m, (m + interval '1 month')::date);
	END LOOP;
END;
$$;

-- Adds appended rows (one array element per row, all arrays of one length) to the rollup.
CREATE OR REPLACE FUNCTION eidastats_rollup_add(p_node integer, p_dates date[], p_networks text[],
	p_countries text[], p_bytes bigint[], p_reqs bigint[], p_succ bigint[], p_failed bigint[],
	p_clients hll[])
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF p_node IS NULL OR p_dates IS NULL THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('eidastats_rollup'), p_node);
	-- sum() semantics: a NULL side adds nothing.
	INSERT INTO dataselect_rollup AS r
		(node_id, month, network, country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	SELECT p_node, date_trunc('month', u.d)::date, u.n, u.c, sum(u.b), sum(u.q), sum(u.s), sum(u.f),
	       hll_union_agg(u.h)
	FROM unnest(p_dates, p_networks, p_countries, p_bytes, p_reqs, p_succ, p_failed, p_clients)
	     AS u(d, n, c, b, q, s, f, h)
	WHERE u.d IS NOT NULL
	GROUP BY 2, 3, 4
	ON CONFLICT (node_id, month, network, country) DO UPDATE SET
		bytes = CASE WHEN r.bytes IS NULL THEN EXCLUDED.bytes WHEN EXCLUDED.bytes IS NULL THEN r.bytes
		             ELSE r.bytes + EXCLUDED.bytes END,
		nb_reqs = CASE WHEN r.nb_reqs IS NULL THEN EXCLUDED.nb_reqs WHEN EXCLUDED.nb_reqs IS NULL
		               THEN r.nb_reqs ELSE r.nb_reqs + EXCLUDED.nb_reqs END,
		nb_successful_reqs = CASE WHEN r.nb_successful_reqs IS NULL THEN EXCLUDED.nb_successful_reqs
		                          WHEN EXCLUDED.nb_successful_reqs IS NULL THEN r.nb_successful_reqs
		                          ELSE r.nb_successful_reqs + EXCLUDED.nb_successful_reqs END,
		nb_failed_reqs = CASE WHEN r.nb_failed_reqs IS NULL THEN EXCLUDED.nb_failed_reqs
		                      WHEN EXCLUDED.nb_failed_reqs IS NULL THEN r.nb_failed_reqs
		                      ELSE r.nb_failed_reqs + EXCLUDED.nb_failed_reqs END,
		clients = CASE WHEN r.clients IS NULL THEN EXCLUDED.clients WHEN EXCLUDED.clients IS NULL
		               THEN r.clients ELSE hll_union(r.clients, EXCLUDED.clients) END;
END;
$$;

-- The groups where the rollup and dataselect_stats differ (none when exact).
CREATE OR REPLACE FUNCTION eidastats_rollup_verify()
RETURNS TABLE (node_id integer, month date, network varchar(6), country varchar(2), problem text)
LANGUAGE sql STABLE AS $$
	SELECT coalesce(c.node_id, r.node_id), coalesce(c.month, r.month),
	       coalesce(c.network, r.network), coalesce(c.country, r.country),
	       CASE WHEN r.node_id IS NULL THEN 'missing from the rollup'
	            WHEN c.node_id IS NULL THEN 'not in dataselect_stats'
	            ELSE 'sums or clients differ' END
	FROM eidastats_rollup_compute(NULL, NULL, NULL) c
	FULL JOIN dataselect_rollup r
	  ON r.node_id = c.node_id AND r.month = c.month
	 AND r.network IS NOT DISTINCT FROM c.network AND r.country IS NOT DISTINCT FROM c.country
	WHERE r.node_id IS NULL OR c.node_id IS NULL
	   OR r.bytes IS DISTINCT FROM c.bytes OR r.nb_reqs IS DISTINCT FROM c.nb_reqs
	   OR r.nb_successful_reqs IS DISTINCT FROM c.nb_successful_reqs
	   OR r.nb_failed_reqs IS DISTINCT FROM c.nb_failed_reqs
	   OR r.clients::text IS DISTINCT FROM c.clients::text
$$;

-- Remakes the whole rollup from dataselect_stats; returns its number of rows.
CREATE OR REPLACE FUNCTION eidastats_rollup_rebuild()
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n bigint;
BEGIN
	LOCK TABLE dataselect_rollup IN EXCLUSIVE MODE;
	DELETE FROM dataselect_rollup;
	INSERT INTO dataselect_rollup SELECT * FROM eidastats_rollup_compute(NULL, NULL, NULL);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;

SELECT eidastats_rollup_rebuild();
