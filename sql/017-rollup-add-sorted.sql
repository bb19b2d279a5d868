-- 017: eidastats_rollup_add() groups a payload's groups by sorting them, not
-- by hashing them.
--
-- The function (sql/011) unites the client sets of its input by (month,
-- network, country), then by (month, country), with hll_union_agg().
-- PostgreSQL plans both as hash aggregates, which keep the state of every
-- group (a client set each) alive until the last input row, in memory the
-- server takes anew for each call; a sort followed by a group aggregate keeps
-- one group's state at a time.  Measured in one psql session on
-- synthetic-small's 2 792 groups, calls alternating between the two plans:
-- into empty rollups 40 to 53 ms hashed, 35 to 37 ms sorted; added to stored
-- rows 30 to 49 ms hashed, 30 to 46 ms sorted (README, Performance).
--
-- The setting is the function's own (a SET clause): it holds while the
-- function, and the triggers its statements fire, run; nothing else changes.
-- A later CREATE OR REPLACE FUNCTION of eidastats_rollup_add() must repeat it
-- (it replaces the function's SET clauses too).
-- Instant; idempotent like the other migrations; eidastats-admin runs it in
-- one transaction.
ALTER FUNCTION eidastats_rollup_add(integer, date[], text[], text[], bigint[], bigint[], bigint[],
	bigint[], hll[])
	SET enable_hashagg = off;
