-- bench/mkfed.sql - a synthetic EIDA federation for bench/query.sh.
--
-- Run by bench/query.sh on a database made by `eidastats-admin db init`:
--   psql -v rows=R -v node=N -f bench/mkfed.sql      (N = 0: nodes and networks;
--                                                      N = 1..12: that node's rows)
-- Shape (deterministic: setseed per node):
--  - 12 nodes NODE01..NODE12; NODE12 has restriction_policy true (restricted),
--    the others false (open).  Every node has 15 networks of two letters
--    (node k: the codes AA.. from (k-1)*15 on); the first network of every odd
--    node is inverted (restricted on an open node), with eas_group /epos/<code>.
--  - 24 months, 2024-01 to 2025-12, each row dated the first of its month.
--  - R rows per node and month: R/4 streams (station S0000.., location '' or
--    '00', channel HHZ/HHN/HHE), each seen from 4 of 40 countries; stations
--    fall into the node's networks unevenly (the first network is the largest).
--  - counters random; clients an hll(11,5) of 1 to 3 random clients out of
--    200 000, so monthly unions are in the FULL representation as in real data.

\set ON_ERROR_STOP 1
SELECT :node = 0 AS setup \gset
\if :setup
INSERT INTO nodes (name, contact, restriction_policy, eas_group)
SELECT format('NODE%s', lpad(k::text, 2, '0')), 'bench@example.org', k = 12,
       format('/op/node%s', lpad(k::text, 2, '0'))
FROM generate_series(1, 12) k
ON CONFLICT DO NOTHING;

INSERT INTO networks (node_id, name, inverted_policy, eas_group)
SELECT n.id, chr(65 + ((n.id - 1) * 15 + j) / 26) || chr(65 + ((n.id - 1) * 15 + j) % 26),
       j = 0 AND n.id % 2 = 1,
       CASE WHEN j = 0 AND n.id % 2 = 1
            THEN '/epos/' || lower(chr(65 + ((n.id - 1) * 15 + j) / 26) || chr(65 + ((n.id - 1) * 15 + j) % 26)) END
FROM nodes n, generate_series(0, 14) j
WHERE n.name LIKE 'NODE__'
ON CONFLICT DO NOTHING;
\else
-- The networks exist (setup above): the loader skips the per-row trigger.
SET eidastats.networks_known = 'on';
SELECT setseed(:node / 100.0);
INSERT INTO dataselect_stats (node_id, date, network, station, location, channel, country,
	bytes, nb_reqs, nb_successful_reqs, nb_failed_reqs, clients)
SELECT :node, (date '2024-01-01' + make_interval(months => mi))::date,
       chr(65 + ((:node - 1) * 15 + g.net) / 26) || chr(65 + ((:node - 1) * 15 + g.net) % 26),
       'S' || lpad(g.st::text, 4, '0'),
       CASE WHEN g.s % 6 < 3 THEN '' ELSE '00' END,
       (ARRAY['HHZ', 'HHN', 'HHE'])[g.s % 3 + 1],
       (ARRAY['DE','FR','IT','GR','CH','NL','ES','PT','GB','US','JP','CN','RO','BG','PL',
              'CZ','AT','BE','DK','NO','SE','FI','IE','TR','RU','UA','IS','HU','SK','SI',
              'HR','RS','MX','CA','BR','AU','IN','KR','TW','']
       )[(g.s * 7 + g.k * 13) % 40 + 1],
       x.b, x.q, x.q - x.f, x.f,
       CASE x.nc
         WHEN 1 THEN hll_add(hll_empty(11, 5), hll_hash_integer(x.c1))
         WHEN 2 THEN hll_add(hll_add(hll_empty(11, 5), hll_hash_integer(x.c1)), hll_hash_integer(x.c2))
         ELSE hll_add(hll_add(hll_add(hll_empty(11, 5), hll_hash_integer(x.c1)),
                              hll_hash_integer(x.c2)), hll_hash_integer(x.c3))
       END
FROM generate_series(0, 23) mi,
     LATERAL (SELECT i, i / 4 AS s, i % 4 AS k, i / 24 AS st,
                     least(14, floor(15 * power((i / 24)::float8 / greatest(1, (:rows + 23) / 24), 2))::int) AS net
              FROM generate_series(0, :rows - 1) i) g,
     LATERAL (SELECT (random() * 5e8)::bigint + (g.i + mi) * 0 AS b, 1 + (random() * 40)::int AS q,
                     (random() * 1.4)::int AS f, 1 + (random() * 2.99)::int AS nc,
                     (random() * 200000)::int AS c1, (random() * 200000)::int AS c2,
                     (random() * 200000)::int AS c3) x;
\endif
