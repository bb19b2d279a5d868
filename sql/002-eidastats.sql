-- 002: what eidastats-ingestd adds to the upstream schema.
--
-- - payloads.digest: SHA-256 of the payload's canonical content (coverage and
--   the set of statistics, whatever their order); the same content from the
--   same node is refused with 409.  Unique per node, so the schema stays
--   distributable by node_id (contrib/citus.md).
-- - payloads.method and payloads.nb_stats: how the payload was applied and
--   how many statistics it held, for operators.
-- - nodes.name is unique: eidastats-admin and tokens refer to nodes by name.
-- - an index to find a node's tokens.
-- - the networks trigger can be skipped by a bulk loader (below).

ALTER TABLE payloads ADD COLUMN IF NOT EXISTS digest bytea;
ALTER TABLE payloads ADD COLUMN IF NOT EXISTS method varchar(4);
ALTER TABLE payloads ADD COLUMN IF NOT EXISTS nb_stats integer;
CREATE UNIQUE INDEX IF NOT EXISTS payloads_node_digest ON payloads (node_id, digest);

CREATE UNIQUE INDEX IF NOT EXISTS nodes_name ON nodes (name);
CREATE INDEX IF NOT EXISTS tokens_node ON tokens (node_id);

-- The networks trigger is skipped by a loader that has already created the
-- networks of its rows in the same transaction and says so with
-- SET LOCAL eidastats.networks_known = 'on' (eidastats-ingestd does, in bulk):
-- one statement instead of a PL/pgSQL call per row.  Anyone else, the
-- upstream service included, still gets the trigger as before.
DROP TRIGGER IF EXISTS dataselect_stats_trigger ON dataselect_stats;
CREATE TRIGGER dataselect_stats_trigger
	BEFORE INSERT ON dataselect_stats
	FOR EACH ROW
	WHEN (current_setting('eidastats.networks_known', true) IS DISTINCT FROM 'on')
	EXECUTE FUNCTION insert_network_if_not_exists();
