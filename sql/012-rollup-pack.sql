-- 012: dataselect_rollup_pack holds, per (node, month), the counters and
-- stored client counts of every dataselect_rollup row of that node and month
-- packed into one bytea, so that network level by month and country
-- (doc/query-api.md), whose answer rows are dataselect_rollup's rows, reads a
-- few hundred narrow values instead of tens of thousands of wide rows: the
-- executor fetching each row (with its hll) and sending each of its values
-- was most of that query's cost, not the size of the answer.
--
-- The pack (read by q_pack_next(), src/central/query.h): for each row of the
-- node-month, in the order network COLLATE "C", country COLLATE "C" (NULL
-- last, as the query API orders its rows):
--   network length (1 byte; 255: NULL), network (UTF-8),
--   country length (1 byte; 255: NULL), country (UTF-8),
--   bytes, nb_reqs, nb_successful_reqs (NULL as 0), clients_card:
--   each a big-endian int8 (int8send()).
-- The client sets are not in the pack: the query reads those of the rows it
-- folds into "Other" from dataselect_rollup itself.
--
-- Kept exact by triggers on dataselect_rollup, whoever writes it (the
-- ingest's upkeep functions, eidastats_rollup_rebuild(), psql, deleting a
-- node): after each statement the packs of the (node, month) pairs it touched
-- are remade from dataselect_rollup; TRUNCATE empties them.  Two
-- transactions that touch the same node-month remake its pack one after the
-- other (a transaction-level advisory lock per pair, taken before the pack is
-- computed, so each computes it from the other's committed rows).  Writers
-- that skip triggers (session_replication_role = replica) are caught by
-- eidastats_rollup_verify() (rollup 'dataselect_rollup_pack') and repaired by
-- eidastats_rollup_rebuild() like the other rollups.
--
-- This migration fills the table from dataselect_rollup (README.md says how
-- long that takes).  Idempotent like the other migrations; eidastats-admin
-- runs it in one transaction.

CREATE TABLE IF NOT EXISTS dataselect_rollup_pack (
	node_id integer NOT NULL REFERENCES nodes (id),
	month date NOT NULL,
	pack bytea NOT NULL,
	PRIMARY KEY (month, node_id)
);
-- Packs are read whole by every such query: stored out of line but not
-- compressed, so reading one is a copy.
ALTER TABLE dataselect_rollup_pack ALTER COLUMN pack SET STORAGE EXTERNAL;

-- One row of a pack (above).  Inlined into the queries below.
CREATE OR REPLACE FUNCTION eidastats_rollup_pack_row(network text, country text, bytes bigint,
	nb_reqs bigint, nb_successful_reqs bigint, clients_card bigint)
RETURNS bytea
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN network IS NULL THEN '\xff'::bytea
	            ELSE set_byte('\x00'::bytea, 0, octet_length(convert_to(network, 'UTF8')))
	                 || convert_to(network, 'UTF8') END
	       || CASE WHEN country IS NULL THEN '\xff'::bytea
	               ELSE set_byte('\x00'::bytea, 0, octet_length(convert_to(country, 'UTF8')))
	                    || convert_to(country, 'UTF8') END
	       || int8send(coalesce(bytes, 0)) || int8send(coalesce(nb_reqs, 0))
	       || int8send(coalesce(nb_successful_reqs, 0)) || int8send(clients_card)
$$;

-- The packs of the (node, month) pairs given as two arrays (NULL: every pair), from dataselect_rollup.
CREATE OR REPLACE FUNCTION eidastats_rollup_pack_compute(p_nodes integer[], p_months date[])
RETURNS TABLE (node_id integer, month date, pack bytea)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF p_nodes IS NULL THEN
		RETURN QUERY
		SELECT r.node_id, r.month,
		       string_agg(eidastats_rollup_pack_row(r.network, r.country, r.bytes, r.nb_reqs,
		                                            r.nb_successful_reqs, r.clients_card),
		                  ''::bytea ORDER BY r.network COLLATE "C", r.country COLLATE "C")
		FROM dataselect_rollup r
		GROUP BY r.node_id, r.month;
	ELSE
		RETURN QUERY
		SELECT r.node_id, r.month,
		       string_agg(eidastats_rollup_pack_row(r.network, r.country, r.bytes, r.nb_reqs,
		                                            r.nb_successful_reqs, r.clients_card),
		                  ''::bytea ORDER BY r.network COLLATE "C", r.country COLLATE "C")
		FROM unnest(p_nodes, p_months) AS u(n, m)
		JOIN dataselect_rollup r ON r.node_id = u.n AND r.month = u.m
		GROUP BY r.node_id, r.month;
	END IF;
END;
$$;

-- Remakes the packs of the (node, month) pairs of the statement's transition table(s).
CREATE OR REPLACE FUNCTION eidastats_rollup_pack_upkeep()
RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	keys integer[];
	months date[];
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		DELETE FROM dataselect_rollup_pack;
		RETURN NULL;
	ELSIF TG_OP = 'INSERT' THEN
		SELECT array_agg(k.node_id ORDER BY k.node_id, k.month), array_agg(k.month ORDER BY k.node_id, k.month)
			INTO keys, months FROM (SELECT DISTINCT t.node_id, t.month FROM pack_new t) k;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(k.node_id ORDER BY k.node_id, k.month), array_agg(k.month ORDER BY k.node_id, k.month)
			INTO keys, months FROM (SELECT DISTINCT t.node_id, t.month FROM pack_old t) k;
	ELSE
		SELECT array_agg(k.node_id ORDER BY k.node_id, k.month), array_agg(k.month ORDER BY k.node_id, k.month)
			INTO keys, months
			FROM (SELECT t.node_id, t.month FROM pack_new t
			      UNION SELECT t.node_id, t.month FROM pack_old t) k;
	END IF;
	IF keys IS NULL THEN
		RETURN NULL;
	END IF;
	-- In key order, so that two writers cannot deadlock here; the statements
	-- below then see every pair's committed rows (READ COMMITTED).
	PERFORM pg_advisory_xact_lock(hashtext('eidastats_rollup_pack'), hashtext(u.n || '/' || u.m))
		FROM unnest(keys, months) AS u(n, m);
	DELETE FROM dataselect_rollup_pack p
		USING unnest(keys, months) AS u(n, m)
		WHERE p.node_id = u.n AND p.month = u.m;
	INSERT INTO dataselect_rollup_pack (node_id, month, pack)
		SELECT c.node_id, c.month, c.pack FROM eidastats_rollup_pack_compute(keys, months) c;
	RETURN NULL;
END;
$$;

-- The groups where a rollup and dataselect_stats differ (none when exact), as in
-- sql/009, and the node-months whose pack differs from dataselect_rollup
-- (rollup 'dataselect_rollup_pack', network and country NULL).
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
	UNION ALL
	SELECT 'dataselect_rollup_pack', coalesce(k.node_id, p.node_id), coalesce(k.month, p.month),
	       NULL, NULL,
	       CASE WHEN p.node_id IS NULL THEN 'missing from the rollup'
	            WHEN k.node_id IS NULL THEN 'not in dataselect_rollup'
	            ELSE 'pack differs from dataselect_rollup' END
	FROM eidastats_rollup_pack_compute(NULL, NULL) k
	FULL JOIN dataselect_rollup_pack p ON p.node_id = k.node_id AND p.month = k.month
	WHERE p.node_id IS NULL OR k.node_id IS NULL OR p.pack IS DISTINCT FROM k.pack
$$;

-- Remakes the four rollups from dataselect_stats, as in sql/009, and then every
-- pack (the triggers remade those of the rows written; this also drops packs
-- of node-months that have no rows); returns the number of rows of dataselect_rollup.
CREATE OR REPLACE FUNCTION eidastats_rollup_rebuild()
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	n bigint;
BEGIN
	LOCK TABLE dataselect_rollup, dataselect_rollup_country, dataselect_rollup_node,
		dataselect_rollup_node_year_country, dataselect_rollup_pack IN EXCLUSIVE MODE;
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
	DELETE FROM dataselect_rollup_pack;
	INSERT INTO dataselect_rollup_pack (node_id, month, pack)
		SELECT c.node_id, c.month, c.pack FROM eidastats_rollup_pack_compute(NULL, NULL) c;
	RETURN n;
END;
$$;

DROP TRIGGER IF EXISTS dataselect_rollup_pack_ins ON dataselect_rollup;
DROP TRIGGER IF EXISTS dataselect_rollup_pack_upd ON dataselect_rollup;
DROP TRIGGER IF EXISTS dataselect_rollup_pack_del ON dataselect_rollup;
DROP TRIGGER IF EXISTS dataselect_rollup_pack_trunc ON dataselect_rollup;
CREATE TRIGGER dataselect_rollup_pack_ins AFTER INSERT ON dataselect_rollup
	REFERENCING NEW TABLE AS pack_new
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_rollup_pack_upkeep();
CREATE TRIGGER dataselect_rollup_pack_upd AFTER UPDATE ON dataselect_rollup
	REFERENCING OLD TABLE AS pack_old NEW TABLE AS pack_new
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_rollup_pack_upkeep();
CREATE TRIGGER dataselect_rollup_pack_del AFTER DELETE ON dataselect_rollup
	REFERENCING OLD TABLE AS pack_old
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_rollup_pack_upkeep();
CREATE TRIGGER dataselect_rollup_pack_trunc AFTER TRUNCATE ON dataselect_rollup
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_rollup_pack_upkeep();

-- The existing rows.
LOCK TABLE dataselect_rollup IN SHARE MODE;
DELETE FROM dataselect_rollup_pack;
INSERT INTO dataselect_rollup_pack (node_id, month, pack)
	SELECT c.node_id, c.month, c.pack FROM eidastats_rollup_pack_compute(NULL, NULL) c;
