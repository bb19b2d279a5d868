-- 013: dataselect_stats' parents are checked once per statement, not once per
-- row, and its pages keep half their room for merges.
--
-- The foreign keys fk_nodes (node_id -> nodes) and fk_networks ((node_id,
-- network) -> networks) of sql/001 run two queries for every row inserted
-- into dataselect_stats (PostgreSQL's RI_FKey_check_ins: an executor started,
-- an index probed and the parent row locked, per row and per key).  Counted
-- with callgrind (PostgreSQL in single-user mode running eidastats-ingestd's
-- transaction for synthetic-small, 27 756 rows, into an empty table), that
-- was 40 % of the instructions: more than the three indexes, the ON CONFLICT
-- probe and the rollup upkeep together.  Without it: 4.32 G instructions
-- instead of 6.75 G.
--
-- Here the same guarantees are kept by triggers that work on sets:
-- - after each INSERT statement, the distinct parents of the new rows (the
--   statement's transition table) are locked FOR KEY SHARE, as the foreign
--   keys locked them, and a statement with a row whose node or (node,
--   network) is missing fails with SQLSTATE 23503 (foreign_key_violation)
--   and the foreign key's message;
-- - an UPDATE that changes a row's node_id or network checks that row (never
--   the case for eidastats-ingestd's merges, so merges pay only the WHEN);
-- - deleting a node or a network, changing its key, or truncating networks
--   while dataselect_stats refers to it fails as the foreign key's NO ACTION
--   did (at the end of the statement).
-- As with the foreign keys, a NULL node_id or network is not checked (MATCH
-- SIMPLE), and the checks run with the rights of the functions' owner (the
-- role that ran the migrations), so that a writer needs no more privileges
-- than before (locking a parent FOR KEY SHARE needs UPDATE on it).  Concurrency is the foreign keys': a parent locked by an
-- uncommitted insert cannot be deleted until that insert commits, and the
-- delete's check then sees the new rows.
--
-- The constraints uniq_stat and the other tables' foreign keys stay.  The
-- upstream service keeps working on this schema: it inserts rows of known
-- nodes, and its networks trigger (sql/001) creates their networks first.
--
-- dataselect_stats' fillfactor goes from 70 (sql/011) to 50: a merge (an
-- append to rows already stored, every day for monthly rows) rewrites each
-- row it touches, and only a page half empty has room for a new version of
-- each of its rows, so that the update stays on the page (HOT) and adds no
-- entry to the table's three indexes.  At 70 at most 3 rows in 7 of a
-- full page can be updated in place; the others cost an entry in each
-- index, deduplication and bottom-up deletion passes: 6.09 G instructions
-- per merge (callgrind, PostgreSQL in single-user mode), 3.66 G at 50.  The
-- price is space: new pages are filled to half (README, Performance, measured
-- for sql/011: 54 MB of raw table instead of 41 MB).  Pages
-- already stored keep their fill until the table is rewritten.
--
-- Cost on an existing database: none that grows with it (two constraints
-- dropped, triggers created, a storage parameter set; nothing is rewritten
-- or scanned).
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

-- After an INSERT statement: the new rows' parents exist, and stay until this transaction ends.
CREATE OR REPLACE FUNCTION eidastats_stats_parents_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	keys record;
	bad record;
BEGIN
	-- A merge into stored rows inserts nothing.
	IF NOT EXISTS (SELECT 1 FROM eidastats_new) THEN
		RETURN NULL;
	END IF;
	-- The statement's distinct parents (a handful, however many rows), the
	-- nodes and networks among them, and how many of those this statement
	-- locked: only locked parents count, so one created meanwhile but not
	-- locked cannot pass.
	WITH k AS MATERIALIZED (
		SELECT DISTINCT node_id, network FROM eidastats_new WHERE node_id IS NOT NULL
	)
	SELECT (SELECT count(DISTINCT node_id) FROM k) AS nodes_wanted,
	       (SELECT count(*) FROM (SELECT 1 FROM nodes n WHERE n.id IN (SELECT node_id FROM k)
	                              FOR KEY SHARE OF n) l) AS nodes_locked,
	       (SELECT count(*) FROM k WHERE network IS NOT NULL) AS networks_wanted,
	       (SELECT count(*) FROM (SELECT 1 FROM networks w
	                              WHERE (w.node_id, w.name) IN (SELECT node_id, network FROM k)
	                              FOR KEY SHARE OF w) l) AS networks_locked
	INTO keys;
	IF keys.nodes_locked < keys.nodes_wanted THEN
		SELECT r.node_id INTO bad FROM eidastats_new r
		WHERE r.node_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = r.node_id)
		LIMIT 1;
		RAISE foreign_key_violation USING
			MESSAGE = 'insert or update on table "dataselect_stats" violates foreign key constraint "fk_nodes"',
			DETAIL = format('Key (node_id)=(%s) is not present in table "nodes".', bad.node_id);
	END IF;
	IF keys.networks_locked < keys.networks_wanted THEN
		SELECT r.node_id, r.network INTO bad FROM eidastats_new r
		WHERE r.node_id IS NOT NULL AND r.network IS NOT NULL AND NOT EXISTS
			(SELECT 1 FROM networks w WHERE w.node_id = r.node_id AND w.name = r.network)
		LIMIT 1;
		RAISE foreign_key_violation USING
			MESSAGE = 'insert or update on table "dataselect_stats" violates foreign key constraint "fk_networks"',
			DETAIL = format('Key (node_id, network)=(%s, %s) is not present in table "networks".',
			                bad.node_id, bad.network);
	END IF;
	RETURN NULL;
END;
$$;

-- After an UPDATE of a row's node_id or network: its new parents exist.
CREATE OR REPLACE FUNCTION eidastats_stats_parents_check_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	IF NEW.node_id IS NOT NULL THEN
		PERFORM 1 FROM nodes n WHERE n.id = NEW.node_id FOR KEY SHARE;
		IF NOT FOUND THEN
			RAISE foreign_key_violation USING
				MESSAGE = 'insert or update on table "dataselect_stats" violates foreign key constraint "fk_nodes"',
				DETAIL = format('Key (node_id)=(%s) is not present in table "nodes".', NEW.node_id);
		END IF;
		IF NEW.network IS NOT NULL THEN
			PERFORM 1 FROM networks w WHERE w.node_id = NEW.node_id AND w.name = NEW.network FOR KEY SHARE;
			IF NOT FOUND THEN
				RAISE foreign_key_violation USING
					MESSAGE = 'insert or update on table "dataselect_stats" violates foreign key constraint "fk_networks"',
					DETAIL = format('Key (node_id, network)=(%s, %s) is not present in table "networks".',
					                NEW.node_id, NEW.network);
			END IF;
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

-- After a DELETE or a key change on nodes or networks, or before a TRUNCATE of networks:
-- no row of dataselect_stats refers to what went away.
CREATE OR REPLACE FUNCTION eidastats_stats_parent_gone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		IF EXISTS (SELECT 1 FROM dataselect_stats WHERE node_id IS NOT NULL AND network IS NOT NULL) THEN
			RAISE feature_not_supported USING
				MESSAGE = 'cannot truncate table "networks": dataselect_stats refers to it (constraint "fk_networks")';
		END IF;
		RETURN NULL;
	END IF;
	IF TG_TABLE_NAME = 'nodes' THEN
		IF TG_OP = 'UPDATE' AND OLD.id IS NOT DISTINCT FROM NEW.id THEN
			RETURN NULL;
		END IF;
		IF EXISTS (SELECT 1 FROM dataselect_stats WHERE node_id = OLD.id) THEN
			RAISE foreign_key_violation USING
				MESSAGE = format('update or delete on table "nodes" violates foreign key constraint "fk_nodes" on table "dataselect_stats"'),
				DETAIL = format('Key (id)=(%s) is still referenced from table "dataselect_stats".', OLD.id);
		END IF;
	ELSE
		IF TG_OP = 'UPDATE' AND OLD.node_id IS NOT DISTINCT FROM NEW.node_id AND OLD.name IS NOT DISTINCT FROM NEW.name THEN
			RETURN NULL;
		END IF;
		IF EXISTS (SELECT 1 FROM dataselect_stats WHERE node_id = OLD.node_id AND network = OLD.name) THEN
			RAISE foreign_key_violation USING
				MESSAGE = format('update or delete on table "networks" violates foreign key constraint "fk_networks" on table "dataselect_stats"'),
				DETAIL = format('Key (node_id, name)=(%s, %s) is still referenced from table "dataselect_stats".',
				                OLD.node_id, OLD.name);
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

ALTER TABLE dataselect_stats DROP CONSTRAINT IF EXISTS fk_nodes;
ALTER TABLE dataselect_stats DROP CONSTRAINT IF EXISTS fk_networks;

DROP TRIGGER IF EXISTS dataselect_stats_parents ON dataselect_stats;
CREATE TRIGGER dataselect_stats_parents
	AFTER INSERT ON dataselect_stats
	REFERENCING NEW TABLE AS eidastats_new
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_stats_parents_check();

DROP TRIGGER IF EXISTS dataselect_stats_parents_upd ON dataselect_stats;
CREATE TRIGGER dataselect_stats_parents_upd
	AFTER UPDATE ON dataselect_stats
	FOR EACH ROW
	WHEN (OLD.node_id IS DISTINCT FROM NEW.node_id OR OLD.network IS DISTINCT FROM NEW.network)
	EXECUTE FUNCTION eidastats_stats_parents_check_row();

DROP TRIGGER IF EXISTS nodes_stats_refs ON nodes;
CREATE TRIGGER nodes_stats_refs
	AFTER DELETE OR UPDATE OF id ON nodes
	FOR EACH ROW EXECUTE FUNCTION eidastats_stats_parent_gone();

DROP TRIGGER IF EXISTS networks_stats_refs ON networks;
CREATE TRIGGER networks_stats_refs
	AFTER DELETE OR UPDATE OF node_id, name ON networks
	FOR EACH ROW EXECUTE FUNCTION eidastats_stats_parent_gone();

DROP TRIGGER IF EXISTS networks_stats_truncate ON networks;
CREATE TRIGGER networks_stats_truncate
	BEFORE TRUNCATE ON networks
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_stats_parent_gone();

ALTER TABLE dataselect_stats SET (fillfactor = 50);
