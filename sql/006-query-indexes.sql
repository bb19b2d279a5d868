-- 006: indexes for query API requests that name a network without a node.
--
-- A public or restricted query with `network=X` and no `node` filters on the
-- network alone: neither dataselect_rollup's key (node_id, month, network,
-- country) nor dataselect_stats' unique constraint (node_id, date, network,
-- ...) can be searched by network, so both were read for the whole date range
-- and filtered row by row (bench/query.sh: "one network by month" read every
-- rollup row of the range, "restricted station level for one network" every
-- station-level row of the range).  With these indexes such a query reads
-- only that network's rows.
--
-- Cost: one more index entry per station-level row written (about a tenth of
-- dataselect_stats' size on disk); the rollup's index is small.
--
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.  On a large existing database the raw table's index takes a
-- while to build and blocks writes to dataselect_stats meanwhile (run the
-- migration while ingestion is paused, or create the index beforehand with
-- CREATE INDEX CONCURRENTLY under the same name).

CREATE INDEX IF NOT EXISTS dataselect_rollup_network ON dataselect_rollup (network, month);
CREATE INDEX IF NOT EXISTS dataselect_stats_network ON dataselect_stats (network, date);
