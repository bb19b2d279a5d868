-- 015: the four rollup tables keep half of each new page free, so that an
-- append updates their rows on their page.
--
-- An append adds each of its groups to a row of dataselect_rollup (and of the
-- three coarser tables) that usually exists already: an UPDATE.  With the
-- tables' default fillfactor of 100 a page has no room for the new version
-- of a row, which then goes to another page and needs a new entry in each of
-- the table's indexes (three for dataselect_rollup).  Counted with callgrind
-- (PostgreSQL 15 in single-user mode, synthetic-small's 2 792 groups added a
-- second time), those index entries were 220 M of the 600 M instructions of
-- eidastats_rollup_add(); with fillfactor 50 the rows are updated on their
-- page (HOT) and the call takes 367 M.  The packs (sql/012) keep theirs:
-- a pack is deleted and inserted again, never updated, so free room on its
-- pages would only spread them over more pages for the queries to read.
--
-- Cost on an existing database: nothing is rewritten; pages already full
-- keep their fill until the rows move (an update that does not fit) or the
-- table is rewritten (VACUUM FULL, CLUSTER).  New pages hold half the rows,
-- so the tables can take up to twice the pages (bench/query.sh's federation
-- of 5.76 million raw rows, built at fillfactor 50: rollups 263 MB, the raw
-- table with its indexes 1 681 MB).
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.
ALTER TABLE dataselect_rollup SET (fillfactor = 50);
ALTER TABLE dataselect_rollup_country SET (fillfactor = 50);
ALTER TABLE dataselect_rollup_node SET (fillfactor = 50);
ALTER TABLE dataselect_rollup_node_year_country SET (fillfactor = 50);
