-- 010: dataselect_rollup keeps each row's distinct-client count beside its
-- client set, so that a query whose answer rows are rollup rows (network
-- level by month and country, doc/query-api.md) need not fetch, sort and
-- decode the sets themselves: the service then asks for the sets of the rows
-- it folds into "Other" only (and for all of them when hllvalues is set).
--
-- clients_card is python-hll's cardinality() of clients, which is what the
-- query API answers as `clients` (doc/hll-format.md §7): PostgreSQL's
-- hll_cardinality() is the same estimate bit for bit (the exact count for
-- EXPLICIT), rounded up; where the estimate is not finite (only 64-bit raw
-- values reach there) python-hll answers 0, and so does the column.
--
-- A stored generated column: PostgreSQL computes it on every INSERT and
-- UPDATE of the row, whoever writes it (the ingest's upkeep functions,
-- eidastats_rollup_rebuild(), COPY, psql), and nobody can write it: it can
-- never disagree with clients, so eidastats_rollup_verify() (which compares
-- clients with dataselect_stats) covers it too, and no upkeep function
-- changes.  Adding it rewrites dataselect_rollup once (README.md says how
-- long that takes).
--
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

ALTER TABLE dataselect_rollup ADD COLUMN IF NOT EXISTS clients_card bigint
	GENERATED ALWAYS AS (
		CASE WHEN hll_cardinality(clients) > 0 AND hll_cardinality(clients) < 'Infinity'::float8
		     THEN ceil(hll_cardinality(clients))::bigint ELSE 0 END) STORED;
