#!/bin/sh
# query-rollup.sh - the query API's answers from the rollups (sql/004-query.sql,
# sql/008-rollup-node.sql, sql/009-rollup-node-year-country.sql, the packs of
# sql/012-rollup-pack.sql)
# are byte-identical to those from dataselect_stats, on random data (day and
# month dates, NULL countries, EXPLICIT, SPARSE and FULL client sets); the
# totals agree with an aggregate computed independently in SQL; folding loses
# nothing; eidastats_rollup_refresh() keeps the rollup exact after appends and
# replacements, and eidastats_rollup_verify() finds rows written behind its back.
# Runs the whole pipeline (parse, pre-check, SQL, rows, fold, render) through
# tests/query/qtool on a real PostgreSQL with hll.  Exit 0 pass, 77 skip, else fail.

. "${top_srcdir:?run through make check}/tests/sh/lib.sh"
. "$top_srcdir/tests/sh/pg.sh"
QTOOL=$top_builddir/tests/query/qtool
[ -x "$QTOOL" ] || fail "tests/query/qtool not built (make check builds it)"
mkdir -p "$T/db"
pg_start "$T/db" || exit $?
es_at_exit pg_stop

for f in "$top_srcdir"/sql/0*.sql; do
	pg_psql -1 -f "$f" >/dev/null 2>"$T/mig.err" || { cat "$T/mig.err"; fail "migration $f"; }
done

# Random but reproducible data: 4 nodes (open, restricted, undefined, open with
# exceptions), networks with every policy, day-dated and month-dated rows.
SEED=${ES_QUERY_SEED:-0.42}
pg_psql >/dev/null <<SQL || fail "filling the database"
SELECT setseed($SEED);
INSERT INTO nodes (name, restriction_policy, eas_group) VALUES
	('N1', false, '/op/n1'), ('N2', true, NULL), ('N3', NULL, NULL), ('N4', false, NULL);
INSERT INTO networks (node_id, name, inverted_policy, eas_group) VALUES
	(1, 'FR', false, NULL), (1, 'Z3', true, '/epos/z3'), (2, 'FR', false, '/epos/fr'),
	(2, 'GE', true, NULL), (3, 'XX', false, NULL), (4, 'FR', false, NULL), (4, 'YY', NULL, NULL);
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
SELECT node, d, net, 'S' || (random() * 9)::int, '', 'HH' || chr(69 + (random() * 2)::int),
	(ARRAY['GR', 'FR', 'DE', '', NULL])[1 + (random() * 4)::int],
	(random() * 1e6)::bigint, r, r - 1, 1,
	(SELECT hll_add_agg(hll_hash_integer(j + off)) FROM generate_series(1, nc) j)
FROM (SELECT 1 + (random() * 3)::int AS node,
	CASE WHEN random() < 0.5 THEN date '2020-11-01' + (random() * 450)::int
	     ELSE (date '2020-11-01' + (random() * 15)::int * interval '1 month')::date END AS d,
	(ARRAY['FR', 'Z3', 'GE', 'XX', 'YY'])[1 + (random() * 4)::int] AS net,
	1 + (random() * 50)::int AS r,
	(random() * 3000)::int AS off,
	(ARRAY[1, 5, 40, 170, 600, 2500])[1 + (random() * 5)::int] AS nc
	FROM generate_series(1, 4000)) g
ON CONFLICT DO NOTHING;
SELECT eidastats_rollup_rebuild();
SQL

rows=$(pg_psql -c "select count(*) from dataselect_stats")
[ "$rows" -gt 3000 ] || fail "only $rows random rows"
bad=$(pg_psql -c "select count(*) from eidastats_rollup_verify()")
[ "$bad" = 0 ] || fail "rollup differs after rebuild in $bad groups"

FAILS=0
note() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
n=0
# Every query that the rollup can answer, compared with the raw table's answer.
for ep in public restricted; do
	for lv in "" "&level=node" "&level=network"; do
		for det in "" "&details=month" "&details=year" "&details=country" "&details=month,country" "&details=year,country"; do
			for flt in "" "&end=2021-06" "&start=2021-02&end=2021-02" "&node=N1,N2" "&end=2021-12&node=N1,N4" "&end=2022-01&format=json" "&country=GR,&country=DE" "&network=FR" "&format=json&hllvalues=true"; do
				qs="start=2020-11$lv$det$flt"
				for groups in "" "/epos/fr" "/op/n1"; do
					[ "$ep" = public ] && [ -n "$groups" ] && continue
					[ "$ep" = restricted ] && [ -z "$groups" ] && continue
					set -- "$qs"
					[ -n "$groups" ] && set -- "$qs" --groups "$groups"
					"$QTOOL" "$ES_DB" "$ep" "$@" >"$T/roll" 2>"$T/roll.st" || note "$ep $qs: qtool failed: $(cat "$T/roll.st")"
					"$QTOOL" "$ES_DB" "$ep" "$@" --raw --chunk 7 >"$T/raw" 2>"$T/raw.st" || note "$ep $qs: qtool --raw failed"
					cmp -s "$T/roll" "$T/raw" || note "$ep $qs $groups: rollup and raw answers differ"
					cmp -s "$T/roll.st" "$T/raw.st" || note "$ep $qs $groups: statuses differ"
					n=$((n + 1))
				done
			done
		done
	done
done
[ "$n" -gt 300 ] || note "only $n queries compared"
# By year over whole and partial years (dataselect_rollup_node_year_country answers whole ones).
ny=0
for range in "start=2020-01" "start=2021-01" "start=2021-02" "start=2020-01&end=2021-12" "start=2021-01&end=2021-12" \
	"start=2020-01&end=2021-11" "start=2021-03&end=2021-12"; do
	for lv in "" "&level=node"; do
		for det in "&details=year" "&details=year,country"; do
			for flt in "" "&country=GR,&country=" "&node=N1,N4" "&format=json&hllvalues=true"; do
				qs="$range$lv$det$flt"
				for ep in public restricted; do
					set -- "$qs"
					[ "$ep" = restricted ] && set -- "$qs" --groups /op/n1
					"$QTOOL" "$ES_DB" "$ep" "$@" >"$T/roll" 2>"$T/roll.st" || note "$ep $qs: qtool failed: $(cat "$T/roll.st")"
					"$QTOOL" "$ES_DB" "$ep" "$@" --raw --chunk 7 >"$T/raw" 2>"$T/raw.st" || note "$ep $qs: qtool --raw failed"
					cmp -s "$T/roll" "$T/raw" || note "$ep $qs: rollup and raw answers differ"
					cmp -s "$T/roll.st" "$T/raw.st" || note "$ep $qs: statuses differ"
					ny=$((ny + 1))
				done
			done
		done
	done
done
[ "$ny" = 224 ] || note "only $ny by-year queries compared"
n=$((n + ny))

# The total, independently: sums and ceil(hll_cardinality) of the union, day rows in their month.
check_total() { # $1 query string, $2 SQL condition
	want=$(pg_psql -c "select coalesce(sum(bytes),0) || ',' || coalesce(sum(nb_reqs),0) || ',' ||
		coalesce(sum(nb_successful_reqs),0) || ',' || coalesce(ceil(hll_cardinality(hll_union_agg(clients)))::bigint, 0)
		from dataselect_stats where $2")
	got=$("$QTOOL" "$ES_DB" public "$1" 2>/dev/null | tail -n 1 | cut -d, -f8-)
	[ "$got" = "$want" ] || note "total of $1: $got, SQL says $want"
}
check_total "start=2020-11" "true"
check_total "start=2021-02&end=2021-04" "date >= '2021-02-01' and date < '2021-05-01'"
check_total "start=2021-3&end=2021-03&country=GR" "date >= '2021-03-01' and date < '2021-04-01' and country = 'GR'"
check_total "start=2020-11&node=N3&country=" "node_id = 3 and country = ''"

# Folding loses nothing: the public network level adds up to the total.
sum_bytes() { awk -F, 'NR > 3 { s += $8 } END { print s + 0 }'; }
all=$("$QTOOL" "$ES_DB" public "start=2020-11" 2>/dev/null | sum_bytes)
net=$("$QTOOL" "$ES_DB" public "start=2020-11&level=network&details=month,country" 2>/dev/null | sum_bytes)
[ "$all" = "$net" ] || note "network level with Other rows adds up to $net, total is $all"
"$QTOOL" "$ES_DB" public "start=2020-11&level=network" 2>/dev/null | grep -q '^\*,Other,Other,' \
	|| note "no Other row at network level"
"$QTOOL" "$ES_DB" public "start=2020-11&level=network" 2>/dev/null | grep -q '^\*,N2,FR,' \
	&& note "a restricted network shown to the public"
"$QTOOL" "$ES_DB" public "start=2020-11&level=network" 2>/dev/null | grep -q '^\*,N3,XX,' \
	&& note "a network of undefined policy shown to the public"

# Pre-check answers through the pipeline.
"$QTOOL" "$ES_DB" public "start=2020-11&network=Z3&node=N1&format=json" >"$T/o" 2>"$T/st"
grep -q '^401 application/json' "$T/st" || note "restricted network on public: $(cat "$T/st")"
"$QTOOL" "$ES_DB" public "start=2020-11&network=QQ" >"$T/o" 2>"$T/st"
[ "$(cat "$T/o")" = "<h1>400 Bad Request</h1><p>No entry that matches given node and network parameters</p>" ] \
	|| note "unknown network: $(cat "$T/o")"
"$QTOOL" "$ES_DB" restricted "start=2020-11&network=FR&node=N2" --groups /epos/z3 >"$T/o" 2>"$T/st"
grep -q '^403 ' "$T/st" || note "restricted network, wrong group: $(cat "$T/st")"

# Appends and replacements: refresh keeps the rollup exact; rows written behind its back are found.
pg_psql >/dev/null <<'SQL' || fail "changing rows"
BEGIN;
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
VALUES (1, '2021-03-17', 'FR', 'NEW', '', 'HHZ', 'GR', 5, 1, 1, 0, hll_add(hll_empty(11, 5), hll_hash_integer(99999)));
DELETE FROM dataselect_stats WHERE node_id = 2 AND date >= '2021-01-01' AND date < '2021-02-01' AND station = 'S3';
UPDATE dataselect_stats SET bytes = bytes + 1 WHERE node_id = 4 AND date >= '2021-05-01' AND date < '2021-06-01';
SELECT eidastats_rollup_refresh(1, ARRAY['2021-03-17']::date[]);
SELECT eidastats_rollup_refresh(2, ARRAY['2021-01-01']::date[]);
SELECT eidastats_rollup_refresh(4, ARRAY['2021-05-31', '2021-05-01']::date[]);
COMMIT;
SQL
bad=$(pg_psql -c "select count(*) from eidastats_rollup_verify()")
[ "$bad" = 0 ] || note "rollup differs after refresh in $bad groups"

# An append as an ingest does it: existing rows get counters added and client
# sets united, new rows are inserted; eidastats_rollup_add() gets the same rows.
pg_psql >/dev/null <<'SQL' || fail "appending rows"
BEGIN;
CREATE TEMP TABLE pay ON COMMIT DROP AS
	SELECT node_id, date, network, station, location, channel, country, 7::bigint AS bytes,
	       3 AS nb_reqs, 2 AS nb_successful_reqs, 1 AS nb_failed_reqs,
	       hll_add(hll_empty(11, 5), hll_hash_integer(node_id * 100000 + 77)) AS clients
	FROM dataselect_stats WHERE node_id = 1 ORDER BY date, station LIMIT 60;
INSERT INTO pay SELECT 1, date '2021-04-09' + i, 'FR', 'AP' || i, '', 'HHZ', 'GR', i, 1, 1, 0,
	hll_add(hll_empty(11, 5), hll_hash_integer(i)) FROM generate_series(1, 20) i;
INSERT INTO dataselect_stats AS s (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	SELECT * FROM pay
	ON CONFLICT ON CONSTRAINT uniq_stat DO UPDATE SET bytes = s.bytes + EXCLUDED.bytes,
		nb_reqs = s.nb_reqs + EXCLUDED.nb_reqs,
		nb_successful_reqs = s.nb_successful_reqs + EXCLUDED.nb_successful_reqs,
		nb_failed_reqs = s.nb_failed_reqs + EXCLUDED.nb_failed_reqs,
		clients = hll_union(s.clients, EXCLUDED.clients);
SELECT eidastats_rollup_add(1, array_agg(date), array_agg(network::text), array_agg(country::text),
	array_agg(bytes), array_agg(nb_reqs::bigint), array_agg(nb_successful_reqs::bigint),
	array_agg(nb_failed_reqs::bigint), array_agg(clients)) FROM pay;
COMMIT;
SQL
bad=$(pg_psql -c "select count(*) from eidastats_rollup_verify()")
[ "$bad" = 0 ] || note "rollup differs after an append in $bad groups"

# Appends add to every rollup table in place (sql/011): rows with NULL counters,
# NULL client sets and NULL countries, over a year's end, appended twice with the
# same keys (the second merged into the first), and a third time into stored rows.
for round in 1 2 3; do
	pg_psql >/dev/null <<SQL || fail "appending rows with NULLs, round $round"
BEGIN;
CREATE TEMP TABLE pay ON COMMIT DROP AS
	SELECT 3 AS node_id, (date '2021-12-27' + i)::date AS date, 'NL'::varchar(6) AS network,
	       ('Z' || i % 4)::varchar(5) AS station, ''::varchar(2) AS location, 'BHZ'::varchar(3) AS channel,
	       (CASE WHEN i % 2 = 0 THEN NULL ELSE 'IT' END)::varchar(2) AS country,
	       (CASE WHEN (i + $round) % 3 = 0 THEN NULL ELSE i * $round END)::bigint AS bytes,
	       (CASE WHEN i % 5 = 0 THEN NULL ELSE $round END)::integer AS nb_reqs,
	       1 AS nb_successful_reqs, (CASE WHEN $round = 2 THEN NULL ELSE 0 END)::integer AS nb_failed_reqs,
	       CASE WHEN (i + $round) % 4 = 0 THEN NULL
	            ELSE hll_add(hll_empty(11, 5), hll_hash_integer(i * 10 + $round)) END AS clients
	FROM generate_series(1, 12) i;
$( [ "$round" = 3 ] && echo "INSERT INTO pay SELECT node_id, date, network, station, location, channel, country, 1, 1, 1, 0,
	hll_add(hll_empty(11, 5), hll_hash_integer(4242)) FROM dataselect_stats WHERE node_id = 3 AND network <> 'NL' ORDER BY date DESC, station LIMIT 30;" )
INSERT INTO dataselect_stats AS s (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
	SELECT * FROM pay
	ON CONFLICT ON CONSTRAINT uniq_stat DO UPDATE SET
		bytes = coalesce(s.bytes + EXCLUDED.bytes, s.bytes, EXCLUDED.bytes),
		nb_reqs = coalesce(s.nb_reqs + EXCLUDED.nb_reqs, s.nb_reqs, EXCLUDED.nb_reqs),
		nb_successful_reqs = coalesce(s.nb_successful_reqs + EXCLUDED.nb_successful_reqs,
		                              s.nb_successful_reqs, EXCLUDED.nb_successful_reqs),
		nb_failed_reqs = coalesce(s.nb_failed_reqs + EXCLUDED.nb_failed_reqs, s.nb_failed_reqs,
		                          EXCLUDED.nb_failed_reqs),
		clients = coalesce(hll_union(s.clients, EXCLUDED.clients), s.clients, EXCLUDED.clients);
SELECT eidastats_rollup_add(3, array_agg(date), array_agg(network::text), array_agg(country::text),
	array_agg(bytes), array_agg(nb_reqs::bigint), array_agg(nb_successful_reqs::bigint),
	array_agg(nb_failed_reqs::bigint), array_agg(clients)) FROM pay;
COMMIT;
SQL
	bad=$(pg_psql -c "select string_agg(rollup || ' ' || month || ' ' || coalesce(country, 'NULL'), ', ') from eidastats_rollup_verify()")
	[ -z "$bad" ] || note "rollup differs after append round $round with NULLs: $bad"
done
# The rows did reach every level: NULL country groups and both years.
[ "$(pg_psql -c "select count(*) from dataselect_rollup_node_year_country
	where node_id = 3 and year in ('2021-01-01', '2022-01-01') and (country is null or country = 'IT')")" -ge 4 ] ||
	note "the appended rows are missing from dataselect_rollup_node_year_country"
for qs in "start=2020-11&level=network&details=month,country" "start=2021-01&end=2021-05&level=node&details=year" \
	"start=2020-11&level=node&details=month&hllvalues=true" "start=2021-01" "start=2020-11&level=node&details=month,country" \
	"start=2021-01&level=node&details=year,country" "start=2020-01&end=2021-12&details=year,country"; do
	"$QTOOL" "$ES_DB" restricted "$qs" --groups /op/n1 >"$T/roll" 2>/dev/null
	"$QTOOL" "$ES_DB" restricted "$qs" --groups /op/n1 --raw >"$T/raw" 2>/dev/null
	cmp -s "$T/roll" "$T/raw" || note "after refresh: $qs differs"
done
pg_psql -c "update dataselect_stats set nb_reqs = nb_reqs + 1 where node_id = 1 and date = (select min(date) from dataselect_stats where node_id = 1)" >/dev/null
bad=$(pg_psql -c "select count(*) from eidastats_rollup_verify()")
[ "$bad" -ge 1 ] || note "verify missed a row changed behind the rollup's back"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
bad=$(pg_psql -c "select count(*) from eidastats_rollup_verify()")
[ "$bad" = 0 ] || note "rollup differs after the second rebuild"
# Each rollup table is verified on its own: a change to the (node, month) one alone is found.
pg_psql -c "update dataselect_rollup_node set nb_reqs = nb_reqs + 1 where node_id = 2 and month = '2021-01-01'" >/dev/null
[ "$(pg_psql -c "select string_agg(rollup || ' ' || node_id || ' ' || month, ',') from eidastats_rollup_verify()")" = \
	"dataselect_rollup_node 2 2021-01-01" ] || note "verify missed a changed dataselect_rollup_node row"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
[ "$(pg_psql -c "select count(*) from eidastats_rollup_verify()")" = 0 ] || note "rebuild did not repair dataselect_rollup_node"
# And a change to the (node, year, country) one alone.
pg_psql -c "update dataselect_rollup_node_year_country set nb_failed_reqs = nb_failed_reqs + 1
	where node_id = 1 and year = '2021-01-01' and country = 'GR'" >/dev/null
[ "$(pg_psql -c "select string_agg(rollup || ' ' || node_id || ' ' || month || ' ' || country, ',') from eidastats_rollup_verify()")" = \
	"dataselect_rollup_node_year_country 1 2021-01-01 GR" ] || note "verify missed a changed dataselect_rollup_node_year_country row"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
[ "$(pg_psql -c "select count(*) from eidastats_rollup_verify()")" = 0 ] || note "rebuild did not repair dataselect_rollup_node_year_country"

# The packs (sql/012): kept by the triggers through every change above (verify
# compares them too), read by network level by month and country over a
# closed range.  A pack changed behind their back is found by verify, changes
# the answer, and rebuild repairs it; so does a write the triggers did not see.
PQ="start=2020-11&end=2022-01&level=network&details=month,country"
[ "$(pg_psql -c "select count(*) from dataselect_rollup_pack")" = \
	"$(pg_psql -c "select count(distinct (node_id, month)) from dataselect_rollup")" ] || note "not one pack per node-month"
"$QTOOL" "$ES_DB" public "$PQ" >"$T/roll" 2>/dev/null || note "packs query failed"
"$QTOOL" "$ES_DB" public "$PQ" --raw >"$T/raw" 2>/dev/null
cmp -s "$T/roll" "$T/raw" || note "packs: $PQ differs from the raw answer"
pg_psql -c "update dataselect_rollup_pack set pack = substr(pack, 1, length(pack) - 38)
	where node_id = 4 and month = '2021-03-01'" >/dev/null
[ "$(pg_psql -c "select string_agg(rollup || ' ' || node_id || ' ' || month, ',') from eidastats_rollup_verify()")" = \
	"dataselect_rollup_pack 4 2021-03-01" ] || note "verify missed a changed pack"
"$QTOOL" "$ES_DB" public "$PQ" >"$T/roll" 2>/dev/null
cmp -s "$T/roll" "$T/raw" && note "the answer did not come from the packs (a changed pack left it equal)"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
[ "$(pg_psql -c "select count(*) from eidastats_rollup_verify()")" = 0 ] || note "rebuild did not repair the pack"
"$QTOOL" "$ES_DB" public "$PQ" >"$T/roll" 2>/dev/null
cmp -s "$T/roll" "$T/raw" || note "packs after rebuild: $PQ differs from the raw answer"
# A folded row's pack and set disagree (its network's row changed behind the
# triggers' back): the renderer refuses rather than answer wrong.
pg_psql >/dev/null <<'SQL' || fail "changing a rollup row without its triggers"
BEGIN;
SET LOCAL session_replication_role = replica;
DELETE FROM dataselect_rollup WHERE node_id = 2 AND month = '2021-02-01' AND network = 'FR';
COMMIT;
SQL
[ "$(pg_psql -c "select count(*) from eidastats_rollup_verify() where rollup = 'dataselect_rollup_pack'")" = 1 ] ||
	note "verify missed a pack the triggers did not keep"
"$QTOOL" "$ES_DB" public "$PQ" >"$T/roll" 2>"$T/roll.st" && note "a pack with rows missing from the rollup was answered"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
[ "$(pg_psql -c "select count(*) from eidastats_rollup_verify()")" = 0 ] || note "rebuild did not repair the packs"
# TRUNCATE and DELETE empty them.
pg_psql -c "truncate dataselect_rollup" >/dev/null
[ "$(pg_psql -c "select count(*) from dataselect_rollup_pack")" = 0 ] || note "TRUNCATE left packs"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
pg_psql -c "delete from dataselect_rollup where node_id = 3" >/dev/null
[ "$(pg_psql -c "select count(*) from dataselect_rollup_pack where node_id = 3")" = 0 ] || note "DELETE left packs"
pg_psql -c "select eidastats_rollup_rebuild()" >/dev/null
[ "$(pg_psql -c "select count(*) from eidastats_rollup_verify()")" = 0 ] || note "rollup differs after the last rebuild"

echo "# $n queries compared, $rows random rows"
[ "$FAILS" = 0 ] || fail "$FAILS checks failed"
exit 0
