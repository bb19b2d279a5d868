-- 005: networks.contact, the e-mail address of a network's principal
-- investigator (`eidastats-admin network set-contact`), to whom the reports
-- about the network go.  NULL: none known.  Upstream's service ignores the
-- column.
ALTER TABLE networks ADD COLUMN IF NOT EXISTS contact text;
