-- 003: bearer tokens are stored only as SHA-256 digests, each at most once.
--
-- - tokens.digest: sha256 of the token's characters (UTF-8), unique, so a
--   token maps to exactly one row and one node, found through the index.
--   eidastats-admin and eidastats-ingestd compute the same digest
--   (src/central/pgx.h, pgx_token_digest).
-- - existing plaintext tokens are converted and their `value` set to NULL.
--   The conversion stops, changing nothing, when one token value is stored
--   more than once (for two nodes, that token would authenticate as a
--   mixture of both): delete the extra rows (eidastats-admin token del) and
--   run `eidastats-admin db init` again.
-- - upstream's `value` column stays, so its tools can still write tokens:
--   a trigger stores the digest of a written value and clears the value.
--
-- sha256() is built into PostgreSQL since version 11 (no pgcrypto needed).

ALTER TABLE tokens ADD COLUMN IF NOT EXISTS digest bytea;

DO $$
DECLARE
	clash record;
BEGIN
	FOR clash IN
		SELECT string_agg(DISTINCT coalesce(n.name, '?') || ' (id ' || coalesce(t.node_id::text, 'none') || ')',
		                  ', ') AS nodes,
		       string_agg(t.id::text, ', ' ORDER BY t.id) AS ids,
		       count(*) AS copies
		FROM tokens t LEFT JOIN nodes n ON n.id = t.node_id
		WHERE t.value IS NOT NULL
		GROUP BY t.value
		HAVING count(*) > 1
		ORDER BY min(t.id)
		LIMIT 1
	LOOP
		RAISE EXCEPTION 'one token value is stored % times, for nodes %: token ids %',
			clash.copies, clash.nodes, clash.ids
			USING HINT = 'a token must belong to exactly one row and node; delete all but one of '
			             'these tokens (eidastats-admin token del ID) and run eidastats-admin db init again';
	END LOOP;
END;
$$;

UPDATE tokens SET digest = sha256(convert_to(value, 'UTF8')), value = NULL WHERE value IS NOT NULL;

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'tokens_digest_key'
	               AND conrelid = 'tokens'::regclass) THEN
		ALTER TABLE tokens ADD CONSTRAINT tokens_digest_key UNIQUE (digest);
	END IF;
END;
$$;

-- A token written the upstream way (plaintext in `value`) is stored as its digest.
CREATE OR REPLACE FUNCTION tokens_store_digest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.value IS NOT NULL THEN
		NEW.digest := sha256(convert_to(NEW.value, 'UTF8'));
		NEW.value := NULL;
	END IF;
	RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS tokens_store_digest ON tokens;
CREATE TRIGGER tokens_store_digest
	BEFORE INSERT OR UPDATE OF value ON tokens
	FOR EACH ROW EXECUTE FUNCTION tokens_store_digest();
