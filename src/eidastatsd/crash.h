/*
 * crash.h - named crash points for the crash-oracle tests.
 *
 * In a build with crash points (configure --enable-crashpoints, or the
 * eidastatsd-crash test program), crash_point("name") ends the process at
 * once with _exit(99) when the environment variable EIDASTATS_CRASHPOINT
 * equals name; nothing is flushed, no handler runs: it is a crash.  With
 * EIDASTATS_CRASHPOINT=name:N the N-th passage (from 1) crashes, so a test
 * can let a few files through first.  Without crash points compiled in,
 * crash_point() is an empty inline function.  It owns nothing.
 *
 * Points used by the daemon, in the order one file meets them:
 *   after-parse        the file is aggregated, nothing is stored yet
 *   mid-spool-write    inside spool_put(): temp file written, not renamed
 *                      (needs the spool's crash hook, see work.c)
 *   after-spool-write  the payload is durable, the ledger does not know it
 *   after-ledger       the ledger recorded the file, the job not finished
 *   mid-delivery       the request body is sent, no answer read yet
 *   after-2xx          the central service accepted; the spool still has it
 *   after-spool-done   the spool file is removed, memory not yet updated
 *
 * The counter behind ":N" is the only process-wide mutable state of the
 * daemon outside main: it exists only in test builds.
 */
#ifndef ESD_CRASH_H
#define ESD_CRASH_H

#ifdef ENABLE_CRASHPOINTS
void crash_point(const char *name);
#else
static inline void crash_point(const char *name) { (void)name; }
#endif

#endif
