-- 001: the schema of the EIDA central statistics database.
--
-- Table and column names, types and constraints are those of the upstream
-- service (EIDA/eida-statistics, its migrations up to 2023), so that the
-- upstream web service and reports keep working on a database made here and
-- eidastats-ingestd can run on an upstream database.  Every statement is
-- idempotent (IF NOT EXISTS / OR REPLACE): applied to an existing upstream
-- database it only adds what is missing.
--
-- eidastats-admin runs each migration file in one transaction and records it
-- in eidastats_migrations; do not run it by hand on a live database.

CREATE EXTENSION IF NOT EXISTS hll;

-- The EIDA nodes (data centres) that submit statistics.
CREATE TABLE IF NOT EXISTS nodes (
	id serial PRIMARY KEY,
	name text,
	contact text,
	restriction_policy boolean,
	eas_group text,
	created_at timestamptz DEFAULT now(),
	updated_at timestamptz DEFAULT now()
);

-- Bearer tokens: each maps to one node and is valid in [valid_from, valid_until].
CREATE TABLE IF NOT EXISTS tokens (
	id serial PRIMARY KEY,
	node_id integer REFERENCES nodes (id),
	value varchar(32),
	valid_from timestamptz NOT NULL,
	valid_until timestamptz NOT NULL,
	created_at timestamptz DEFAULT now(),
	updated_at timestamptz DEFAULT now()
);

-- One row per accepted payload.  `hash` is the upstream service's duplicate
-- check (a 32-bit hash of the Python text of `stats`, unique across nodes);
-- eidastats-ingestd leaves it NULL and uses `digest` (migration 002).
CREATE TABLE IF NOT EXISTS payloads (
	id serial PRIMARY KEY,
	node_id integer REFERENCES nodes (id),
	hash bigint UNIQUE,
	generated_at timestamptz,
	version varchar(32),
	first_stat_at timestamptz,
	last_stat_at timestamptz,
	coverage date[],
	created_at timestamptz DEFAULT now()
);

-- The networks each node serves, with their restriction policy.
CREATE TABLE IF NOT EXISTS networks (
	node_id integer REFERENCES nodes (id),
	name varchar(6),
	inverted_policy boolean,
	eas_group text,
	PRIMARY KEY (node_id, name)
);

-- The statistics: one row per node, date, stream and country.  `date` is the
-- first day of the month for monthly rows (what the upstream service expects)
-- or the day itself for eidastats' daily rows.
CREATE TABLE IF NOT EXISTS dataselect_stats (
	node_id integer,
	date date,
	network varchar(6),
	station varchar(5),
	location varchar(2),
	channel varchar(3),
	country varchar(2),
	bytes bigint,
	nb_reqs integer,
	nb_successful_reqs integer,
	nb_failed_reqs integer,
	clients hll(11, 5),
	created_at timestamptz DEFAULT now(),
	updated_at timestamptz,
	CONSTRAINT uniq_stat UNIQUE (node_id, date, network, station, location, channel, country),
	CONSTRAINT fk_nodes FOREIGN KEY (node_id) REFERENCES nodes (id),
	CONSTRAINT fk_networks FOREIGN KEY (node_id, network) REFERENCES networks (node_id, name)
);

-- As upstream: a statistic for a network the node has not declared creates
-- the network (not inverted), so fk_networks never refuses a payload.
CREATE OR REPLACE FUNCTION insert_network_if_not_exists() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM networks WHERE node_id = NEW.node_id AND name = NEW.network) THEN
		INSERT INTO networks (node_id, name, inverted_policy)
		VALUES (NEW.node_id, NEW.network, false)
		ON CONFLICT DO NOTHING;
	END IF;
	RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS dataselect_stats_trigger ON dataselect_stats;
CREATE TRIGGER dataselect_stats_trigger
	BEFORE INSERT ON dataselect_stats
	FOR EACH ROW EXECUTE FUNCTION insert_network_if_not_exists();

-- The days each node has covered, from the payloads' coverage (upstream's view).
CREATE OR REPLACE VIEW coverage AS
	SELECT n.name AS node, d.day AS stat_day
	FROM nodes n
	LEFT JOIN (SELECT node_id, unnest(coverage) AS day FROM payloads) d ON d.node_id = n.id;
