-- 016: what an insert into dataselect_stats and the rollups costs per row
-- becomes a cost per statement, and the date index becomes a BRIN index.
--
-- Counted with callgrind (PostgreSQL 15 in single-user mode running
-- eidastats-ingestd's transaction for synthetic-small, 27 756 rows and 2 792
-- groups, into an empty table: the networks, the COPY into dataselect_stats,
-- eidastats_rollup_add()), 2 308 M instructions before this migration:
--
-- - The networks trigger of the upstream schema (sql/001) is a BEFORE INSERT
--   row trigger.  eidastats-ingestd skips its function (sql/002), but its
--   mere presence makes COPY insert row by row instead of in batches of
--   pages (heap_multi_insert: one WAL record and one buffer lock per page):
--   89 M.  It is replaced by a statement trigger that does the same once per
--   statement, on the statement's transition table: the networks of the new
--   rows that do not exist yet are created (node_id and name non-NULL, as
--   the foreign key checks them; inverted_policy false, as upstream's
--   function), unless the writer says it has created them already with
--   SET LOCAL eidastats.networks_known = 'on'.  It runs with the writer's
--   rights, like upstream's function: a writer without INSERT on networks
--   can still insert rows of networks that exist.  The statement trigger is
--   named so that it fires before sql/013's parents check (triggers of one
--   event fire in name order), which then finds the networks.
-- - The rollup tables' foreign keys to nodes (sql/004, 008, 009, 012) run a
--   query per row inserted: 114 M.  They are replaced as sql/013 replaced
--   dataselect_stats' own: after each INSERT statement the distinct nodes of
--   the new rows are locked FOR KEY SHARE and a missing one fails with
--   SQLSTATE 23503 and the foreign key's message; an UPDATE that changes a
--   row's node_id checks that row; deleting a node or changing its id while
--   a rollup row refers to it fails as the foreign key's NO ACTION did, and
--   so does a TRUNCATE of nodes that leaves rollup rows behind (checked
--   after the statement, so that truncating the rollups in the same
--   statement passes).  The constraints keep their names in the messages.
-- - dataselect_stats_date, a btree on a column with a few distinct values
--   per payload (one per month for monthly rows), spends its inserts on
--   posting lists: 189 M.  Rows reach the table in date order (a day's or
--   month's rows arrive together and merges update them in place, sql/013),
--   so a BRIN index (a date range per 128 pages) serves the date ranges of
--   the station-level queries over all nodes, the only queries that use it
--   (node- and network-filtered ones use uniq_stat and
--   dataselect_stats_network); its inserts cost 79 M.  autosummarize asks
--   autovacuum to summarize each range once it is full; ranges not yet
--   summarized are read by every query that uses the index, so answers are
--   the same either way.
--
-- 2 006 M instructions after it (-13 %), the checks that replace the
-- foreign keys and the statement trigger included.
--
-- Cost on an existing database: the BRIN index is built by one scan of
-- dataselect_stats, and the btree it replaces is dropped (README.md,
-- migration 016, gives the time per million rows); writes to dataselect_stats
-- wait meanwhile.  The rest is instant: constraints dropped, triggers made.
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

-- After an INSERT statement on dataselect_stats: the new rows' networks exist
-- (created when missing, unless the writer created them itself).
CREATE OR REPLACE FUNCTION eidastats_stats_networks_create() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('eidastats.networks_known', true) IS NOT DISTINCT FROM 'on' THEN
		RETURN NULL;
	END IF;
	-- Only when one is missing, as upstream's function: the INSERT needs
	-- that privilege even when it would insert nothing.
	IF EXISTS (SELECT 1 FROM eidastats_new r
	           WHERE r.node_id IS NOT NULL AND r.network IS NOT NULL
	             AND NOT EXISTS (SELECT 1 FROM networks w WHERE w.node_id = r.node_id AND w.name = r.network)) THEN
		INSERT INTO networks (node_id, name, inverted_policy)
			SELECT DISTINCT r.node_id, r.network, false FROM eidastats_new r
			WHERE r.node_id IS NOT NULL AND r.network IS NOT NULL
			ORDER BY 1, 2
			ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS dataselect_stats_trigger ON dataselect_stats;
DROP TRIGGER IF EXISTS dataselect_stats_networks ON dataselect_stats;
CREATE TRIGGER dataselect_stats_networks
	AFTER INSERT ON dataselect_stats
	REFERENCING NEW TABLE AS eidastats_new
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_stats_networks_create();

-- The error of the foreign key of rollup table t for a row whose node is missing.
CREATE OR REPLACE FUNCTION eidastats_rollup_node_missing(t text, node integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE foreign_key_violation USING
		MESSAGE = format('insert or update on table "%s" violates foreign key constraint "%s_node_id_fkey"', t, t),
		DETAIL = format('Key (node_id)=(%s) is not present in table "nodes".', node);
END;
$$;

-- After an INSERT statement on a rollup table: the new rows' nodes exist, and
-- stay until this transaction ends.
CREATE OR REPLACE FUNCTION eidastats_rollup_parents_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	wanted bigint;
	locked bigint;
	bad integer;
BEGIN
	WITH k AS MATERIALIZED (SELECT DISTINCT node_id FROM eidastats_new WHERE node_id IS NOT NULL)
	SELECT (SELECT count(*) FROM k),
	       (SELECT count(*) FROM (SELECT 1 FROM nodes n WHERE n.id IN (SELECT node_id FROM k)
	                              FOR KEY SHARE OF n) l)
	INTO wanted, locked;
	IF locked < wanted THEN
		SELECT r.node_id INTO bad FROM eidastats_new r
		WHERE r.node_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = r.node_id)
		LIMIT 1;
		PERFORM eidastats_rollup_node_missing(TG_TABLE_NAME, bad);
	END IF;
	RETURN NULL;
END;
$$;

-- After an UPDATE of a rollup row's node_id: its new node exists.
CREATE OR REPLACE FUNCTION eidastats_rollup_parents_check_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
	IF NEW.node_id IS NOT NULL THEN
		PERFORM 1 FROM nodes n WHERE n.id = NEW.node_id FOR KEY SHARE;
		IF NOT FOUND THEN
			PERFORM eidastats_rollup_node_missing(TG_TABLE_NAME, NEW.node_id);
		END IF;
	END IF;
	RETURN NULL;
END;
$$;

-- After a node is deleted or its id changed, or after a TRUNCATE of nodes: no
-- rollup row refers to a node that is gone.
CREATE OR REPLACE FUNCTION eidastats_rollup_parent_gone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
	t text;
	found_one boolean;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		IF OLD.id IS NOT DISTINCT FROM NEW.id THEN
			RETURN NULL;
		END IF;
	END IF;
	FOREACH t IN ARRAY ARRAY['dataselect_rollup', 'dataselect_rollup_country', 'dataselect_rollup_node',
	                         'dataselect_rollup_node_year_country', 'dataselect_rollup_pack'] LOOP
		IF TG_OP = 'TRUNCATE' THEN
			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I n WHERE n.node_id IS NOT NULL)', t) INTO found_one;
			IF found_one THEN
				RAISE foreign_key_violation USING
					MESSAGE = format('cannot truncate table "nodes": table "%s" refers to it (constraint "%s_node_id_fkey")', t, t),
					HINT = format('Truncate table "%s" in the same statement.', t);
			END IF;
		ELSE
			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I n WHERE n.node_id = $1)', t) INTO found_one USING OLD.id;
			IF found_one THEN
				RAISE foreign_key_violation USING
					MESSAGE = format('update or delete on table "nodes" violates foreign key constraint "%s_node_id_fkey" on table "%s"', t, t),
					DETAIL = format('Key (id)=(%s) is still referenced from table "%s".', OLD.id, t);
			END IF;
		END IF;
	END LOOP;
	RETURN NULL;
END;
$$;

DO $$
DECLARE
	t text;
	c record;
BEGIN
	FOREACH t IN ARRAY ARRAY['dataselect_rollup', 'dataselect_rollup_country', 'dataselect_rollup_node',
	                         'dataselect_rollup_node_year_country', 'dataselect_rollup_pack'] LOOP
		-- Whatever the foreign key's name (PostgreSQL named them <table>_node_id_fkey).
		FOR c IN SELECT conname FROM pg_constraint
		         WHERE conrelid = t::regclass AND contype = 'f' AND confrelid = 'nodes'::regclass LOOP
			EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, c.conname);
		END LOOP;
		-- <table>_nodes sorts before dataselect_rollup's pack triggers (sql/012),
		-- so that a missing node is reported for the table written, as the
		-- foreign key's trigger was.
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_nodes', t);
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS eidastats_new '
		               'FOR EACH STATEMENT EXECUTE FUNCTION eidastats_rollup_parents_check()', t || '_nodes', t);
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I', t || '_nodes_upd', t);
		EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I FOR EACH ROW '
		               'WHEN (OLD.node_id IS DISTINCT FROM NEW.node_id) '
		               'EXECUTE FUNCTION eidastats_rollup_parents_check_row()', t || '_nodes_upd', t);
	END LOOP;
END;
$$;

DROP TRIGGER IF EXISTS nodes_rollup_refs ON nodes;
CREATE TRIGGER nodes_rollup_refs
	AFTER DELETE OR UPDATE OF id ON nodes
	FOR EACH ROW EXECUTE FUNCTION eidastats_rollup_parent_gone();
DROP TRIGGER IF EXISTS nodes_rollup_truncate ON nodes;
CREATE TRIGGER nodes_rollup_truncate
	AFTER TRUNCATE ON nodes
	FOR EACH STATEMENT EXECUTE FUNCTION eidastats_rollup_parent_gone();

-- The btree by date, replaced once (a BRIN index of the same name stays).
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_class i JOIN pg_am a ON a.oid = i.relam
	           WHERE i.oid = to_regclass('dataselect_stats_date') AND a.amname <> 'brin') THEN
		DROP INDEX dataselect_stats_date;
	END IF;
END;
$$;
CREATE INDEX IF NOT EXISTS dataselect_stats_date ON dataselect_stats USING brin (date)
	WITH (autosummarize = on);
