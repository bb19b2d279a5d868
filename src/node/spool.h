/*
 * spool.h - the durable queue of payloads waiting for delivery.
 *
 * Layout: STATE/spool/ holds one file per pending payload,
 * "<id as 16 lower-case hex digits>.payload"; STATE/spool/rejected/ keeps
 * payloads the central service refused for good (each with a
 * "<id>.reason" text file beside it); STATE/spool/bad/ keeps files that
 * failed their checks (torn, truncated, checksum mismatch, unknown names).
 * Temporary files are "STATE/spool/.tmp-<id>" and are removed at init.
 *
 * File format: a fixed 392-byte header, then the body (the exact bytes that
 * are POSTed, unchanged on every attempt):
 *   0   magic "ESPOOL1\n"            8 bytes
 *   8   id                           u64 big-endian
 *   16  body length                  u64 big-endian
 *   24  created (unix seconds)       i64 big-endian
 *   32  SHA-256 of the body          32 bytes
 *   64  source_digest                32 bytes (SHA-256 of the source log's content)
 *   96  source file base name        256 bytes, NUL-padded, at most 255 used
 *   352 reserved, zero               8 bytes
 *   360 SHA-256 of bytes 0..359      32 bytes
 * Writing: fsx_replace_at() (temp file → write → fsync → rename →
 * fsync(directory)).  Delivery
 * attempts are counted by the caller, not in the file (the file never
 * changes after it is written).
 *
 * Ids increase monotonically across restarts: the next id is one more than
 * the largest id seen at init in the spool, rejected/ or bad/.
 *
 * Thread safety: every function takes the spool's mutex, so spool_put() may
 * run in worker threads while the loop thread lists, loads and completes.
 *
 * Crash points (crash.h; only with crash points compiled in):
 *   spool-mid-write      spool_put(): header and half the body written, no fsync
 *   spool-before-rename  spool_put(): temp file complete, not renamed
 *   spool-after-rename   spool_put(): payload durable, before spool_put() returns
 *   spool-after-unlink   spool_done(): file unlinked, directory not yet fsynced
 *
 * Ownership: spool_init() allocates the spool_t, spool_fini() frees it (NULL
 * is fine).  Bodies from spool_load() are malloc()ed and freed by the caller.
 */
#ifndef ES_SPOOL_H
#define ES_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_HEADER_SIZE 392
#define SPOOL_MAX_BODY ((uint64_t)1 << 32)   /* 4 GiB: a larger body is refused (ES_ELIMIT). */

struct es_log;
typedef struct spool spool_t;

typedef struct spool_entry {
	uint64_t id;
	uint64_t size;          /* body bytes */
	int64_t created;        /* unix seconds */
	uint8_t source_digest[32];
	char source[256];       /* source log file base name */
} spool_entry_t;

typedef struct spool_stats {
	size_t pending;          /* payloads waiting in spool/ */
	uint64_t bytes;          /* their body bytes (the quantity max_bytes limits) */
	int64_t oldest_created;  /* 0 if none */
	size_t rejected;         /* payloads in rejected/ */
	size_t bad;              /* files in bad/ (counted at init, plus those moved since) */
} spool_stats_t;

/*
 * Creates STATE/spool and its subdirectories if needed (mode 0700), removes
 * leftover temp files and scans the pending files, verifying each header and
 * body checksum; a torn/corrupt/unknown file is moved to bad/ (counted, and
 * told to log, one message per file), never blocking start-up.  A file that
 * cannot be checked (EIO, a failing hash) is left alone and init fails.
 * bad_moved, when not NULL, receives how many files this init moved to bad/.
 * log (log.h; NULL drops the messages) is kept for the spool's life: files
 * quarantined or vanished later are told there too.
 * Returns 0 or -errno (directories unusable, a file that cannot be checked).
 */
int spool_init_ex(spool_t **out, const char *state_dir, uint64_t max_bytes, size_t *bad_moved,
                  const struct es_log *log);
/* spool_init_ex() without the count, messages dropped (tests). */
int spool_init(spool_t **out, const char *state_dir, uint64_t max_bytes);
void spool_fini(spool_t *sp);

/*
 * Durably stores body (len bytes; len 0 is allowed) with its source log's
 * base name (truncated to 255 bytes) and content digest.  ES_ELIMIT if
 * pending bytes + len would exceed max_bytes (nothing written).  On success
 * *id (if not NULL) receives the new id; the payload is on disk when this
 * returns.
 */
int spool_put(spool_t *sp, const char *source, const uint8_t source_digest[32],
              const void *body, size_t len, uint64_t *id);
/* Pending entries oldest (lowest id) first: fills up to max entries, returns how many. */
size_t spool_list(spool_t *sp, spool_entry_t *out, size_t max);
/* Copies the entry of a pending id: 1 found, 0 not. */
int spool_get(spool_t *sp, uint64_t id, spool_entry_t *out);
/*
 * Reads and verifies a body (malloc()ed, caller frees).  -ENOENT if the id
 * is not pending (or its file has vanished: it is then no longer pending);
 * ES_ECHECKSUM for any damage (torn, truncated, checksum or header mismatch):
 * the file was moved to bad/ and is no longer pending.  Other -errno (EIO):
 * the entry stays pending.
 */
int spool_load(spool_t *sp, uint64_t id, void **body, size_t *len);
/* Delivered: unlink, fsync dir.  -ENOENT if not pending. */
int spool_done(spool_t *sp, uint64_t id);
/* Refused for good: moved to rejected/ with a "<id>.reason" file holding why and a newline. */
int spool_reject(spool_t *sp, uint64_t id, const char *why);
/* A pending payload made from the source with this digest: 1 found (*id set if not NULL), 0 not. */
int spool_find_digest(spool_t *sp, const uint8_t source_digest[32], uint64_t *id);
void spool_get_stats(spool_t *sp, spool_stats_t *st);
/* 1 when pending bytes have reached max_bytes (no new payload should be made), else 0. */
int spool_is_full(spool_t *sp);
/*
 * Checks the SPOOL_HEADER_SIZE bytes at h (magic, header checksum, source
 * name terminated, body length within SPOOL_MAX_BODY) and fills *e and
 * body_sha (the body's SHA-256 as recorded).  0, ES_ECHECKSUM with *why a
 * static reason, or -EIO when hashing fails.  Pure (no spool, any thread);
 * every spool file is checked with it.
 */
int spool_header_decode(const uint8_t *h, spool_entry_t *e, uint8_t body_sha[32],
                        const char **why);
/* Path of the spool directory (STATE/spool), owned by sp. */
const char *spool_dir(spool_t *sp);

#endif
