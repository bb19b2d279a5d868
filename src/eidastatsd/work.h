/*
 * work.h - what eidastatsd runs in the libuv thread pool.
 *
 * The loop thread never reads a log file, writes the spool or appends to
 * the ledger: it hands those steps to the pool with the functions below and
 * continues in their completion callbacks, which run on the loop thread.
 *
 *  - work_file(): one log file → aggregate (stats.h) → is its content already
 *    counted (ledger, spool)? → payload → spool_put() → ledger_add().  The
 *    "known? → spool → ledger" step is serialised by d->commit_lock, so two
 *    copies of one day are counted once even with several workers.
 *  - work_scan(): lists the log directory (readdir + stat + ledger lookups).
 *  - work_call(): any other blocking step (the sender's spool loads and
 *    removals).
 *
 * Ownership: requests are allocated here and freed after their callback;
 * callers pass plain values (copied) and a ctx pointer they own.  When the
 * daemon is stopping, jobs that have not started do nothing and report
 * WORK_ABANDONED; a job already aggregating finishes reading but stores
 * nothing (the file is redone after restart).
 */
#ifndef ESD_WORK_H
#define ESD_WORK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "agg.h"
#include "daemon.h"

/* Quick identity of a file as stat() saw it. */
struct fid {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	int64_t ctime_ns;   /* Not part of the ledger identity: a chmod changes it. */
};

struct work_file_req {
	char path[4096];       /* Full path of the log file. */
	char name[256];        /* Its base name (what the ledger and spool record). */
	struct fid expect;     /* Identity the watcher saw; a different file → WORK_CHANGED. */
	int granularity;       /* STATS_MONTH or STATS_DAY. */
	int compress;          /* gzip the payload body. */
	unsigned decoders;     /* bzip2 decoding threads for this file (reader_opts_t.threads);
	                        * the daemon's share of the CPUs per worker, at least 1. */
};

enum work_outcome {
	WORK_COUNTED = 0,   /* Payload spooled, ledger updated. */
	WORK_EMPTY,         /* No statistics: recorded in the ledger as empty. */
	WORK_DUPLICATE,     /* Same content as a file already counted. */
	WORK_CHANGED,       /* The file is not the one the watcher saw. */
	WORK_TRUNCATED,     /* The compressed stream ends early: maybe still being written. */
	WORK_UNAVAIL,       /* The network registry could not answer: try again later. */
	WORK_FULL,          /* The spool is at spool.max_bytes. */
	WORK_STATEDIR,      /* The state directory cannot be written (full, read-only, I/O
	                     * error on the ledger): nothing new is kept, the file waits. */
	WORK_FAILED,        /* Unreadable, corrupt, over a limit: reason says why. */
	WORK_ABANDONED      /* The daemon is stopping. */
};

struct work_result {
	enum work_outcome outcome;
	int err;                 /* The error code behind FAILED and friends. */
	char reason[384];        /* Human text for status and logs. */
	uint64_t payload_id;     /* COUNTED (and DUPLICATE: the earlier one, if known). */
	agg_counts_t counts;     /* What was read (zero if not aggregated). */
	size_t nstats;
	double seconds;          /* Time spent aggregating. */
	char refused[256];       /* Refused traces per network code, cut to fit. */
};

/* bzip2 decoder threads per file when `workers` files may be aggregated at
 * once on `cpus` processors: cpus / workers, at least 1 (cpus < 1: 1). */
unsigned work_decoders(unsigned workers, long cpus);

typedef void (*work_file_cb)(esd_t *d, void *ctx, const struct work_result *r);
/* Queues the job; cb runs on the loop thread with the result.  0 or -errno. */
int work_file(esd_t *d, const struct work_file_req *req, work_file_cb cb, void *ctx);

struct scan_entry {
	char name[256];
	struct fid id;
	int in_ledger;           /* ledger_find_file() knows this identity. */
	int twin;                /* The compressed/uncompressed twin exists. */
	int64_t twin_mtime_ns;
};
/* The log directory itself as the scan found it (stat() follows a symbolic link). */
struct scan_dir {
	uint64_t dev, ino;       /* Of the directory reached; 0 when err. */
	int is_link;             /* The configured path is a symbolic link. */
	char target[512];        /* Where the link leads (realpath), cut to fit; "" if none. */
};
/* Entries sorted by name, malloc()ed: the callback takes ownership of v.
 * err: 0 or -errno of opening the directory. */
typedef void (*work_scan_cb)(esd_t *d, struct scan_entry *v, size_t n, int err, int truncated,
                             const struct scan_dir *dir);
#define WORK_SCAN_MAX 100000   /* Entries kept per scan; more is reported as truncated. */
int work_scan(esd_t *d, const char *dir, const char *pattern, work_scan_cb cb);

/* Runs fn(arg) in the pool, then done(d, arg, cancelled) on the loop. */
typedef void (*work_fn)(void *arg);
typedef void (*work_done_fn)(esd_t *d, void *arg, int cancelled);
int work_call(esd_t *d, work_fn fn, work_done_fn done, void *arg);

/* Checks an opened log file: fills *st and returns 0 for a regular file,
 * -EINVAL for anything else, -errno when fstat() fails (st is then not
 * read). */
int work_check_regular(int fd, struct stat *st);

/* 1 when err (from spool_put() or ledger_add()) means the state directory
 * cannot take writes for now: -ENOSPC, -EDQUOT, -EROFS, -EIO.  Such a file
 * waits (WORK_STATEDIR) instead of failing. */
int work_state_unwritable(int err);

/* Checks that the state directory takes a durable write again: creates
 * STATE/.write-probe, writes WORK_PROBE_BYTES, fsync()s and removes it.
 * 0 or -errno.  Any thread (it blocks: call it in the pool). */
#define WORK_PROBE_BYTES 8192
int work_probe_state(const char *state_dir);

/* Returns 1 if name ends in a compression suffix (.bz2, .gz), and the length
 * of the name without it in *stem. */
int work_is_compressed_name(const char *name, size_t *stem);

#endif
