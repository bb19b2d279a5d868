-- 014: dataselect_stats' five codes compare by their bytes (COLLATE "C").
--
-- Counted with callgrind (PostgreSQL 15 in single-user mode running
-- eidastats-ingestd's transaction for synthetic-small, 27 756 rows, into an
-- empty table, database collation C.UTF-8), the comparisons of the unique
-- constraint uniq_stat (the ON CONFLICT probe and the insert's own check) and
-- of dataselect_stats_network were the largest single cost of an ingest:
-- bttextcmp 12 % of the instructions, of which varstr_cmp's work for a
-- collation that is not "C" (pg_newlocale_from_collation, copying both
-- strings to terminate them, strcoll) most; more under a real locale such as
-- en_US.UTF-8.  A code (network, station, location, channel, country) is
-- ASCII letters, digits and '-' (sql/001, the payload's checks), so its
-- byte order is as good an order as any, and for every deterministic
-- collation two codes are equal exactly when their bytes are: uniq_stat
-- keeps the rows it kept, and ON CONFLICT finds the rows it found.
-- Same count after this migration: 3.44 G instructions instead of 3.58 G
-- into an empty table, 3.06 G instead of 3.15 G merged (bttextcmp 8.6 %:
-- what remains is the call, the detoasting and the memcmp).
--
-- What changes for readers: an ORDER BY of one of these columns without a
-- COLLATE of its own sorts by bytes (under C.UTF-8, the test clusters' and
-- Debian's default, that is the same order); a comparison with a column of
-- the database's default collation (networks.name) takes "C" (a non-default
-- implicit collation wins); eidastats' queries and the upstream service's
-- statements need no change.  The rollup tables keep their collation.
--
-- Cost on an existing database: the columns' type is unchanged, so the
-- table is not rewritten; uniq_stat and dataselect_stats_network are
-- rebuilt (a sort of the table's keys, under an exclusive lock: run it when
-- no payload arrives).  The row trigger of sql/013 that watches network is
-- dropped and made again, as PostgreSQL requires for a column whose
-- collation changes.
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_attribute a
	           WHERE a.attrelid = 'dataselect_stats'::regclass
	             AND a.attname IN ('network', 'station', 'location', 'channel', 'country')
	             AND a.attcollation <> 'pg_catalog."C"'::regcollation) THEN
		DROP TRIGGER IF EXISTS dataselect_stats_parents_upd ON dataselect_stats;
		ALTER TABLE dataselect_stats
			ALTER COLUMN network TYPE varchar(6) COLLATE "C",
			ALTER COLUMN station TYPE varchar(5) COLLATE "C",
			ALTER COLUMN location TYPE varchar(2) COLLATE "C",
			ALTER COLUMN channel TYPE varchar(3) COLLATE "C",
			ALTER COLUMN country TYPE varchar(2) COLLATE "C";
	END IF;
END;
$$;

DROP TRIGGER IF EXISTS dataselect_stats_parents_upd ON dataselect_stats;
CREATE TRIGGER dataselect_stats_parents_upd
	AFTER UPDATE ON dataselect_stats
	FOR EACH ROW
	WHEN (OLD.node_id IS DISTINCT FROM NEW.node_id OR OLD.network IS DISTINCT FROM NEW.network)
	EXECUTE FUNCTION eidastats_stats_parents_check_row();
