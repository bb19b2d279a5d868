-- 011: an append keeps every rollup up to date incrementally, and the raw
-- table leaves room on its pages for merges to update rows in place.
--
-- Until now eidastats_rollup_add() (sql/004-query.sql) added the appended rows
-- to dataselect_rollup only, then remade the touched node-months of
-- dataselect_rollup_country and dataselect_rollup_node and the touched
-- node-years of dataselect_rollup_node_year_country from the finer table
-- (eidastats_rollup_country_refresh(), sql/009): a cost proportional to the
-- month and year already stored (a node-year's countries, every network of a
-- node-month), paid by every payload however small, under the node's
-- advisory lock.
--
-- Now the appended rows are added to all four tables in one statement: per
-- group, the sums of the counters are added (NULL as sum() treats it: a NULL
-- side adds nothing, NULL and NULL stay NULL) and the union of the client
-- sets is united with the stored one.  That is exact: the raw rows gain
-- exactly these counters and client sets (a row re-sent by an append is
-- merged into the stored one by addition and union), sums of sums are sums,
-- and the union of HLLs is associative, commutative and idempotent, byte for
-- byte.  A replacement (PUT) still calls eidastats_rollup_refresh(), which
-- remakes the touched node-months from dataselect_stats: what it replaced
-- cannot be subtracted.
--
-- Appends of one node no longer wait for each other: they take the node's
-- advisory lock shared, a refresh takes it exclusively (as before).
--
-- dataselect_stats gets fillfactor 70: new pages keep 30 % free, so that
-- an append merging into stored rows (a node's monthly rows, every day)
-- updates most of them on their page (HOT) instead of adding an entry to each
-- of the table's three indexes for every row.  On synthetic-small merges
-- (bench/ingest.sh) that took the CPU per payload from 1.3 s to 1.0 s for 5 %
-- more table (README, Performance).  Pages already stored keep their fill
-- until the table is rewritten (VACUUM FULL, CLUSTER); nothing is rewritten here.
--
-- The rollup tables and their rows stay as they are.
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

-- Adds appended rows (one array element per row, all arrays of one length) to the four rollups.
CREATE OR REPLACE FUNCTION eidastats_rollup_add(p_node integer, p_dates date[], p_networks text[],
	p_countries text[], p_bytes bigint[], p_reqs bigint[], p_succ bigint[], p_failed bigint[],
	p_clients hll[])
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF p_node IS NULL OR p_dates IS NULL THEN
		RETURN;
	END IF;
	-- Appends of one node run side by side: each adds its own counters and
	-- client sets, and a row two of them add to is updated by one after the
	-- other (the second sees the first's committed row).  The rows are
	-- written table by table in key order, so two appends cannot deadlock.
	-- A refresh (eidastats_rollup_refresh(): deletes, then recomputes from
	-- dataselect_stats) takes the same lock exclusively, so that no append
	-- commits a row between its two statements.
	PERFORM pg_advisory_xact_lock_shared(hashtext('eidastats_rollup'), p_node);
	-- g: the payload by (month, network, country), as dataselect_rollup
	-- groups it; the coarser tables group g further.  coalesce(a + b, a, b)
	-- and coalesce(hll_union(a, b), a, b) add as sum() and hll_union_agg() do.
	WITH g AS MATERIALIZED (
		SELECT date_trunc('month', u.d)::date AS month, u.n AS network, u.c AS country,
		       sum(u.b)::bigint AS b, sum(u.q)::bigint AS q, sum(u.s)::bigint AS s,
		       sum(u.f)::bigint AS f, hll_union_agg(u.h) AS h
		FROM unnest(p_dates, p_networks, p_countries, p_bytes, p_reqs, p_succ, p_failed, p_clients)
		     AS u(d, n, c, b, q, s, f, h)
		WHERE u.d IS NOT NULL
		GROUP BY 1, 2, 3
	), gc AS MATERIALIZED (
		SELECT g.month, g.country, sum(g.b)::bigint AS b, sum(g.q)::bigint AS q,
		       sum(g.s)::bigint AS s, sum(g.f)::bigint AS f, hll_union_agg(g.h) AS h
		FROM g GROUP BY 1, 2
	), rn AS (
		INSERT INTO dataselect_rollup AS r
			(node_id, month, network, country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
		SELECT p_node, g.month, g.network, g.country, g.b, g.q, g.s, g.f, g.h FROM g ORDER BY 2, 3, 4
		ON CONFLICT (node_id, month, network, country) DO UPDATE SET
			bytes = coalesce(r.bytes + EXCLUDED.bytes, r.bytes, EXCLUDED.bytes),
			nb_reqs = coalesce(r.nb_reqs + EXCLUDED.nb_reqs, r.nb_reqs, EXCLUDED.nb_reqs),
			nb_successful_reqs = coalesce(r.nb_successful_reqs + EXCLUDED.nb_successful_reqs,
			                              r.nb_successful_reqs, EXCLUDED.nb_successful_reqs),
			nb_failed_reqs = coalesce(r.nb_failed_reqs + EXCLUDED.nb_failed_reqs,
			                          r.nb_failed_reqs, EXCLUDED.nb_failed_reqs),
			clients = coalesce(hll_union(r.clients, EXCLUDED.clients), r.clients, EXCLUDED.clients)
	), rc AS (
		INSERT INTO dataselect_rollup_country AS r
			(node_id, month, country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
		SELECT p_node, gc.month, gc.country, gc.b, gc.q, gc.s, gc.f, gc.h FROM gc ORDER BY 2, 3
		ON CONFLICT (node_id, month, country) DO UPDATE SET
			bytes = coalesce(r.bytes + EXCLUDED.bytes, r.bytes, EXCLUDED.bytes),
			nb_reqs = coalesce(r.nb_reqs + EXCLUDED.nb_reqs, r.nb_reqs, EXCLUDED.nb_reqs),
			nb_successful_reqs = coalesce(r.nb_successful_reqs + EXCLUDED.nb_successful_reqs,
			                              r.nb_successful_reqs, EXCLUDED.nb_successful_reqs),
			nb_failed_reqs = coalesce(r.nb_failed_reqs + EXCLUDED.nb_failed_reqs,
			                          r.nb_failed_reqs, EXCLUDED.nb_failed_reqs),
			clients = coalesce(hll_union(r.clients, EXCLUDED.clients), r.clients, EXCLUDED.clients)
	), rm AS (
		INSERT INTO dataselect_rollup_node AS r
			(node_id, month, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
		SELECT p_node, gc.month, sum(gc.b)::bigint, sum(gc.q)::bigint, sum(gc.s)::bigint,
		       sum(gc.f)::bigint, hll_union_agg(gc.h)
		FROM gc GROUP BY 2 ORDER BY 2
		ON CONFLICT (node_id, month) DO UPDATE SET
			bytes = coalesce(r.bytes + EXCLUDED.bytes, r.bytes, EXCLUDED.bytes),
			nb_reqs = coalesce(r.nb_reqs + EXCLUDED.nb_reqs, r.nb_reqs, EXCLUDED.nb_reqs),
			nb_successful_reqs = coalesce(r.nb_successful_reqs + EXCLUDED.nb_successful_reqs,
			                              r.nb_successful_reqs, EXCLUDED.nb_successful_reqs),
			nb_failed_reqs = coalesce(r.nb_failed_reqs + EXCLUDED.nb_failed_reqs,
			                          r.nb_failed_reqs, EXCLUDED.nb_failed_reqs),
			clients = coalesce(hll_union(r.clients, EXCLUDED.clients), r.clients, EXCLUDED.clients)
	)
	-- Through timestamp (without time zone): the same first day in any TimeZone (as sql/009).
	INSERT INTO dataselect_rollup_node_year_country AS r
		(node_id, year, country, bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	SELECT p_node, date_trunc('year', gc.month::timestamp)::date, gc.country, sum(gc.b)::bigint,
	       sum(gc.q)::bigint, sum(gc.s)::bigint, sum(gc.f)::bigint, hll_union_agg(gc.h)
	FROM gc GROUP BY 2, 3 ORDER BY 2, 3
	ON CONFLICT (node_id, year, country) DO UPDATE SET
		bytes = coalesce(r.bytes + EXCLUDED.bytes, r.bytes, EXCLUDED.bytes),
		nb_reqs = coalesce(r.nb_reqs + EXCLUDED.nb_reqs, r.nb_reqs, EXCLUDED.nb_reqs),
		nb_successful_reqs = coalesce(r.nb_successful_reqs + EXCLUDED.nb_successful_reqs,
		                              r.nb_successful_reqs, EXCLUDED.nb_successful_reqs),
		nb_failed_reqs = coalesce(r.nb_failed_reqs + EXCLUDED.nb_failed_reqs,
		                          r.nb_failed_reqs, EXCLUDED.nb_failed_reqs),
		clients = coalesce(hll_union(r.clients, EXCLUDED.clients), r.clients, EXCLUDED.clients);
END;
$$;

ALTER TABLE dataselect_stats SET (fillfactor = 70);
