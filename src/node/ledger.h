/*
 * ledger.h - the record of log files already counted.
 *
 * File STATE/ledger, append-only, one record per line:
 *   "L1 <digest 64 hex> <dev> <ino> <size> <mtime_ns> <payload_id> <done_at>
 *    <status> <name as %-escaped text> <crc32 as 8 hex>\n"
 * (one line; the CRC-32 covers everything before its separating space).  A
 * line whose CRC, syntax or newline is wrong — typically the torn last line
 * after a crash — is ignored at init (and counted); the next append first
 * cuts such a torn tail off, so later records stay readable.  A record is on
 * disk (write + fdatasync) before ledger_add() returns; the file is open for
 * writing only during an append, so that its file system can be remounted
 * read-only at any other time.  The file is read
 * entirely at init (limit LEDGER_MAX_RECORDS) and kept in memory, indexed by
 * content digest and by quick identity (dev, ino, size, mtime_ns).  When a
 * digest or identity occurs more than once, the latest record wins.
 *
 * Crash rule (doc/eidastatsd.8): a payload is spooled durably BEFORE the ledger
 * records its file; at start-up the daemon records spooled entries whose
 * source digest is not yet in the ledger.
 *
 * Crash point (crash.h; only with crash points compiled in):
 * ledger-mid-append: ledger_add() writes and syncs half of its line, then
 * crashes (a torn record).
 *
 * Thread safety: every function takes the ledger's mutex.
 * Ownership: ledger_init() allocates, ledger_fini() frees (NULL is fine).
 */
#ifndef ES_LEDGER_H
#define ES_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#define LEDGER_MAX_RECORDS 1000000   /* About 2700 years of one file a day. */

typedef struct ledger ledger_t;

enum ledger_status { LEDGER_DONE = 1, LEDGER_EMPTY = 2 /* no statistics */ };

typedef struct ledger_rec {
	uint8_t digest[32];      /* SHA-256 of the decompressed content */
	uint64_t dev, ino, size; int64_t mtime_ns;   /* quick identity of the file as seen */
	char name[256];          /* base name */
	uint64_t payload_id;     /* spool id, 0 if none */
	int64_t done_at;         /* unix seconds */
	int status;              /* enum ledger_status */
} ledger_rec_t;

/*
 * Opens (creating, mode 0600) STATE/ledger and loads it.  state_dir must
 * exist.  bad_lines, when not NULL, receives how many lines were ignored.
 * Returns 0, -errno, or ES_ELIMIT beyond LEDGER_MAX_RECORDS.
 */
int ledger_init_ex(ledger_t **out, const char *state_dir, size_t *bad_lines);
int ledger_init(ledger_t **out, const char *state_dir);
void ledger_fini(ledger_t *l);
/* 1 and *out filled (if not NULL) when a record has this content digest, else 0. */
int ledger_find_digest(ledger_t *l, const uint8_t digest[32], ledger_rec_t *out);
/* 1 and *out filled (if not NULL) when a record has this quick identity, else 0. */
int ledger_find_file(ledger_t *l, uint64_t dev, uint64_t ino, uint64_t size, int64_t mtime_ns,
                     ledger_rec_t *out);
/*
 * Appends rec (name truncated to 255 bytes; status must be LEDGER_DONE or
 * LEDGER_EMPTY, else -EINVAL) and fdatasync()s before returning.  On a write
 * error nothing is added to memory and the file is cut back to its previous
 * length.
 */
int ledger_add(ledger_t *l, const ledger_rec_t *rec);
size_t ledger_count(ledger_t *l);
/*
 * Parses one record line (len bytes without its newline, NUL at line[len];
 * modified in place) into *r: 0, ES_ECHECKSUM (CRC mismatch) or ES_EFORMAT.
 * Pure (no ledger, any thread); ledger_init() reads each line with it.
 */
int ledger_parse_line(char *line, size_t len, ledger_rec_t *r);

#endif
