-- 009: a fourth rollup, dataselect_rollup_node_year_country by (node, year,
-- country), for the queries that group by year over whole years without
-- network grouping or filter (node level by year and country; bench/query.sh
-- "node level by year and country" united 12 monthly client sets of
-- dataselect_rollup_country per answer row).  `year` is the year's first day.
--
-- Like dataselect_rollup_node (sql/008-rollup-node.sql) it is made from
-- dataselect_rollup_country by eidastats_rollup_country_refresh(), which
-- eidastats_rollup_add() (an append) and eidastats_rollup_refresh() (a PUT,
-- any other change) call in the ingest's transaction: the years of the
-- touched months are remade, so it is kept exact exactly like the others.
-- eidastats_rollup_verify() compares it with dataselect_stats too, and
-- eidastats_rollup_rebuild() remakes it.
--
-- This migration fills it from dataselect_rollup_country (one pass over that
-- table).
--
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

CREATE TABLE IF NOT EXISTS dataselect_rollup_node_year_country (
	node_id integer NOT NULL REFERENCES nodes (id),
	year date NOT NULL,
	country varchar(2),
	bytes bigint,
	nb_reqs bigint,
	nb_successful_reqs bigint,
	nb_failed_reqs bigint,
	clients hll(11, 5)
);
CREATE UNIQUE INDEX IF NOT EXISTS dataselect_rollup_node_year_country_key
	ON dataselect_rollup_node_year_country (node_id, year, country) NULLS NOT DISTINCT;
CREATE INDEX IF NOT EXISTS dataselect_rollup_node_year_country_year
	ON dataselect_rollup_node_year_country (year);

-- Recomputes dataselect_rollup_country for (p_node, the months) from
-- dataselect_rollup, then dataselect_rollup_node for the months and
-- dataselect_rollup_node_year_country for their years from
-- dataselect_rollup_country.
CREATE OR REPLACE FUNCTION eidastats_rollup_country_refresh(p_node integer, p_months date[])
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	-- Through timestamp (without time zone): the same first day in any TimeZone.
	years date[] := ARRAY(SELECT DISTINCT date_trunc('year', m::timestamp)::date FROM unnest(p_months) m);
BEGIN
	DELETE FROM dataselect_rollup_country r
		WHERE r.node_id = p_node AND r.month = ANY (p_months);
	INSERT INTO dataselect_rollup_country
		SELECT r.node_id, r.month, r.country, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
		       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
		FROM dataselect_rollup r
		WHERE r.node_id = p_node AND r.month = ANY (p_months)
		GROUP BY 1, 2, 3;
	DELETE FROM dataselect_rollup_node r
		WHERE r.node_id = p_node AND r.month = ANY (p_months);
	INSERT INTO dataselect_rollup_node
		SELECT r.node_id, r.month, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
		       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
		FROM dataselect_rollup_country r
		WHERE r.node_id = p_node AND r.month = ANY (p_months)
		GROUP BY 1, 2;
	DELETE FROM dataselect_rollup_node_year_country r
		WHERE r.node_id = p_node AND r.year = ANY (years);
	INSERT INTO dataselect_rollup_node_year_country
		SELECT r.node_id, date_trunc('year', r.month::timestamp)::date, r.country, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
		       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
		FROM dataselect_rollup_country r
		WHERE r.node_id = p_node
		  AND date_trunc('year', r.month::timestamp)::date = ANY (years)
		GROUP BY 1, 2, 3;
END;
$$;

-- The groups where a rollup and dataselect_stats differ (none when exact).
CREATE OR REPLACE FUNCTION eidastats_rollup_verify()
RETURNS TABLE (rollup text, node_id integer, month date, network varchar(6), country varchar(2), problem text)
LANGUAGE sql STABLE AS $$
	WITH c AS (SELECT * FROM eidastats_rollup_compute(NULL, NULL, NULL)),
	cc AS (SELECT c.node_id, c.month, c.country, sum(c.bytes)::bigint AS bytes,
	              sum(c.nb_reqs)::bigint AS nb_reqs, sum(c.nb_successful_reqs)::bigint AS nb_successful_reqs,
	              sum(c.nb_failed_reqs)::bigint AS nb_failed_reqs, hll_union_agg(c.clients) AS clients
	       FROM c GROUP BY 1, 2, 3),
	cn AS (SELECT cc.node_id, cc.month, sum(cc.bytes)::bigint AS bytes,
	              sum(cc.nb_reqs)::bigint AS nb_reqs, sum(cc.nb_successful_reqs)::bigint AS nb_successful_reqs,
	              sum(cc.nb_failed_reqs)::bigint AS nb_failed_reqs, hll_union_agg(cc.clients) AS clients
	       FROM cc GROUP BY 1, 2),
	cy AS (SELECT cc.node_id, date_trunc('year', cc.month::timestamp)::date AS year, cc.country, sum(cc.bytes)::bigint AS bytes,
	              sum(cc.nb_reqs)::bigint AS nb_reqs, sum(cc.nb_successful_reqs)::bigint AS nb_successful_reqs,
	              sum(cc.nb_failed_reqs)::bigint AS nb_failed_reqs, hll_union_agg(cc.clients) AS clients
	       FROM cc GROUP BY 1, 2, 3)
	SELECT 'dataselect_rollup', coalesce(c.node_id, r.node_id), coalesce(c.month, r.month),
	       coalesce(c.network, r.network), coalesce(c.country, r.country),
	       CASE WHEN r.node_id IS NULL THEN 'missing from the rollup'
	            WHEN c.node_id IS NULL THEN 'not in dataselect_stats'
	            ELSE 'sums or clients differ' END
	FROM c
	FULL JOIN dataselect_rollup r
	  ON r.node_id = c.node_id AND r.month = c.month
	 AND r.network IS NOT DISTINCT FROM c.network AND r.country IS NOT DISTINCT FROM c.country
	WHERE r.node_id IS NULL OR c.node_id IS NULL
	   OR r.bytes IS DISTINCT FROM c.bytes OR r.nb_reqs IS DISTINCT FROM c.nb_reqs
	   OR r.nb_successful_reqs IS DISTINCT FROM c.nb_successful_reqs
	   OR r.nb_failed_reqs IS DISTINCT FROM c.nb_failed_reqs
	   OR r.clients::text IS DISTINCT FROM c.clients::text
	UNION ALL
	SELECT 'dataselect_rollup_country', coalesce(cc.node_id, r.node_id), coalesce(cc.month, r.month),
	       NULL, coalesce(cc.country, r.country),
	       CASE WHEN r.node_id IS NULL THEN 'missing from the rollup'
	            WHEN cc.node_id IS NULL THEN 'not in dataselect_stats'
	            ELSE 'sums or clients differ' END
	FROM cc
	FULL JOIN dataselect_rollup_country r
	  ON r.node_id = cc.node_id AND r.month = cc.month AND r.country IS NOT DISTINCT FROM cc.country
	WHERE r.node_id IS NULL OR cc.node_id IS NULL
	   OR r.bytes IS DISTINCT FROM cc.bytes OR r.nb_reqs IS DISTINCT FROM cc.nb_reqs
	   OR r.nb_successful_reqs IS DISTINCT FROM cc.nb_successful_reqs
	   OR r.nb_failed_reqs IS DISTINCT FROM cc.nb_failed_reqs
	   OR r.clients::text IS DISTINCT FROM cc.clients::text
	UNION ALL
	SELECT 'dataselect_rollup_node', coalesce(cn.node_id, r.node_id), coalesce(cn.month, r.month),
	       NULL, NULL,
	       CASE WHEN r.node_id IS NULL THEN 'missing from the rollup'
	            WHEN cn.node_id IS NULL THEN 'not in dataselect_stats'
	            ELSE 'sums or clients differ' END
	FROM cn
	FULL JOIN dataselect_rollup_node r ON r.node_id = cn.node_id AND r.month = cn.month
	WHERE r.node_id IS NULL OR cn.node_id IS NULL
	   OR r.bytes IS DISTINCT FROM cn.bytes OR r.nb_reqs IS DISTINCT FROM cn.nb_reqs
	   OR r.nb_successful_reqs IS DISTINCT FROM cn.nb_successful_reqs
	   OR r.nb_failed_reqs IS DISTINCT FROM cn.nb_failed_reqs
	   OR r.clients::text IS DISTINCT FROM cn.clients::text
	UNION ALL
	SELECT 'dataselect_rollup_node_year_country', coalesce(cy.node_id, r.node_id), coalesce(cy.year, r.year),
	       NULL, coalesce(cy.country, r.country),
	       CASE WHEN r.node_id IS NULL THEN 'missing from the rollup'
	            WHEN cy.node_id IS NULL THEN 'not in dataselect_stats'
	            ELSE 'sums or clients differ' END
	FROM cy
	FULL JOIN dataselect_rollup_node_year_country r
	  ON r.node_id = cy.node_id AND r.year = cy.year AND r.country IS NOT DISTINCT FROM cy.country
	WHERE r.node_id IS NULL OR cy.node_id IS NULL
	   OR r.bytes IS DISTINCT FROM cy.bytes OR r.nb_reqs IS DISTINCT FROM cy.nb_reqs
	   OR r.nb_successful_reqs IS DISTINCT FROM cy.nb_successful_reqs
	   OR r.nb_failed_reqs IS DISTINCT FROM cy.nb_failed_reqs
	   OR r.clients::text IS DISTINCT FROM cy.clients::text
$$;

-- Remakes the four rollups from dataselect_stats; returns the number of rows of dataselect_rollup.
CREATE OR REPLACE FUNCTION eidastats_rollup_rebuild()
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n bigint;
BEGIN
	LOCK TABLE dataselect_rollup, dataselect_rollup_country, dataselect_rollup_node,
		dataselect_rollup_node_year_country IN EXCLUSIVE MODE;
	DELETE FROM dataselect_rollup;
	INSERT INTO dataselect_rollup SELECT * FROM eidastats_rollup_compute(NULL, NULL, NULL);
	GET DIAGNOSTICS n = ROW_COUNT;
	DELETE FROM dataselect_rollup_country;
	INSERT INTO dataselect_rollup_country
		SELECT r.node_id, r.month, r.country, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
		       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
		FROM dataselect_rollup r GROUP BY 1, 2, 3;
	DELETE FROM dataselect_rollup_node;
	INSERT INTO dataselect_rollup_node
		SELECT r.node_id, r.month, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
		       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
		FROM dataselect_rollup_country r GROUP BY 1, 2;
	DELETE FROM dataselect_rollup_node_year_country;
	INSERT INTO dataselect_rollup_node_year_country
		SELECT r.node_id, date_trunc('year', r.month::timestamp)::date, r.country, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
		       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
		FROM dataselect_rollup_country r GROUP BY 1, 2, 3;
	RETURN n;
END;
$$;

-- The existing rows (dataselect_rollup_country is exact, or verify says otherwise).
LOCK TABLE dataselect_rollup_country, dataselect_rollup_node_year_country IN EXCLUSIVE MODE;
DELETE FROM dataselect_rollup_node_year_country;
INSERT INTO dataselect_rollup_node_year_country
	SELECT r.node_id, date_trunc('year', r.month::timestamp)::date, r.country, sum(r.bytes)::bigint, sum(r.nb_reqs)::bigint,
	       sum(r.nb_successful_reqs)::bigint, sum(r.nb_failed_reqs)::bigint, hll_union_agg(r.clients)
	FROM dataselect_rollup_country r GROUP BY 1, 2, 3;
