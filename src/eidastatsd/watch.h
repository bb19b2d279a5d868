/*
 * watch.h - the log directory watcher and the settle rules of eidastatsd.
 *
 * The watcher keeps a table of the files matching file_pattern (one entry
 * per name, at most WORK_SCAN_MAX) and decides when each may be read.  A
 * uv_fs_event on the directory only schedules a scan: the scan itself (a
 * thread-pool job) is the truth, and it also runs on a timer (at least every
 * WATCH_RESCAN_S seconds, sooner when a file is due to settle).
 *
 * A file is queued when
 *  - its quick identity is not in the ledger (a file seen before is not read
 *    again) and its day is not before `since`;
 *  - its size and mtime have been stable for `settle` seconds;
 *  - compressed (.bz2, .gz): its uncompressed twin is gone;
 *  - uncompressed: it was last modified `plain_after` seconds ago and no
 *    compressed twin has been written to within that time (bzip2 is not
 *    working on it).
 * The queue is served oldest day first, `workers` files at a time, while the
 * spool has room.  A compressed file whose stream turns out incomplete waits
 * again (it may still be written) and fails only when it stays unchanged and
 * incomplete for plain_after; a file the registry cannot serve waits and is
 * retried.  Failed files are retried when they change, on `rescan` and after
 * a reload.
 *
 * Bad days (doc/eidastatsd.8, FAULTS): when the state directory cannot be
 * written (WORK_STATEDIR) the file waits, d->state_error is set, no file is
 * dispatched, and every WATCH_RETRY_S a write probe (work_probe_state(),
 * then esd_held_flush()) runs in the pool until it succeeds.  Waits are
 * measured on the monotonic clock; file mtimes only shorten them while the
 * wall clock has not jumped (watch_unchanged_ms()).  A file changed while it
 * was read (WORK_CHANGED) settles again.  When the log directory's path
 * leads to another directory (a symbolic link, a move), the change is
 * logged and the new directory watched.
 *
 * Ownership: watch_init() allocates d->watch; watch_close() closes its
 * handles (during the stop), watch_free() frees the table after the loop
 * ended.  All functions run on the loop thread.
 */
#ifndef ESD_WATCH_H
#define ESD_WATCH_H

#include <cjson/cJSON.h>

#include "daemon.h"

#define WATCH_RESCAN_S 30
#define WATCH_RETRY_S 5   /* Scans while the directory cannot be read, and probes
                           * while the state directory cannot be written. */
#define WATCH_WALL_JUMP_MS 2000   /* A step of the wall clock beyond this is a jump. */

/* How long (ms) a file has been unchanged, for the settle rules: since our
 * first sighting of its identity (since_mono, on the monotonic clock now),
 * or longer when its mtime (wall clock, ms) is older than that.  The mtime
 * is not trusted when the wall clock has stepped by more than
 * WATCH_WALL_JUMP_MS since the sighting (offset_then = wall - monotonic
 * then; after a jump forward an active file would look old until its next
 * write), and an mtime in the future proves nothing.  Pure. */
int64_t watch_unchanged_ms(int64_t since_mono, int64_t offset_then, int64_t mtime_ms,
                           int64_t now, int64_t wall);

int watch_init(esd_t *d);
void watch_close(esd_t *d);
void watch_free(esd_t *d);

/* Scans soon; with retry_failed, failed files are tried again. */
void watch_rescan(esd_t *d, int retry_failed);
/* The spool has room again (a payload was delivered or rejected): serves
 * the queue again. */
void watch_kick(esd_t *d);
/* Applies a new configuration (directory, pattern, since, settle, workers). */
void watch_reconfigure(esd_t *d);

/* Number of file jobs in flight. */
int watch_running(esd_t *d);
/* Adds "files": {"done","waiting","failed","running","ignored"} and the
 * lists "failures" [{file, reason}] and "waiting_files" [{file, reason}]
 * (each cut at 100 entries) to obj. */
void watch_status_json(esd_t *d, cJSON *obj);
/* Counts for the STATUS= line. */
void watch_counts(esd_t *d, size_t *done, size_t *waiting, size_t *failed);

#endif
