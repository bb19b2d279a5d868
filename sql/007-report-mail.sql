-- 007: report_mail, what `eidastats-report --mail` sent (src/report/mail.h).
--
-- One row per mail the SMTP server accepted: the period (2025-01 or 2025),
-- the scope (the federation summary, a node's report to its contact, a
-- network's report to its principal investigator), the node and network
-- names as the report directory names them ('' where the scope has none),
-- the recipients, the Message-ID and when it went.  The unique key is what
-- keeps a report from being mailed twice, even when it is remade later;
-- a mail that failed has no row and is tried again at the next run.
-- Upstream's service ignores the table.
--
-- Idempotent like the other migrations; eidastats-admin runs it in one
-- transaction.

CREATE TABLE IF NOT EXISTS report_mail (
	id serial PRIMARY KEY,
	period text NOT NULL CHECK (period ~ '^[0-9]{4}(-(0[1-9]|1[0-2]))?$'),
	scope text NOT NULL CHECK (scope IN ('federation', 'node', 'network')),
	node text NOT NULL DEFAULT '',
	network text NOT NULL DEFAULT '',
	recipients text NOT NULL,
	message_id text NOT NULL,
	sent_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT report_mail_once UNIQUE (period, scope, node, network),
	CHECK ((scope = 'federation') = (node = '')),
	CHECK ((scope = 'network') = (network <> ''))
);
