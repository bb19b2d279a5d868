/*
 * crash.h - named crash points for the crash-oracle tests.
 *
 * In a build with crash points (configure --enable-crashpoints, or the
 * eidastatsd-crash test program, which compiles this file, the spool and the
 * ledger again with ENABLE_CRASHPOINTS), crash_point("name") ends the
 * process at once with _exit(ES_CRASH_EXIT) when the environment variable
 * EIDASTATS_CRASHPOINT equals name; nothing is flushed, no handler runs: it
 * is a crash.  With EIDASTATS_CRASHPOINT=name:N the N-th passage (from 1)
 * crashes, so a test can let a few files through first.  A point that must
 * leave a half-done write behind asks crash_armed() first, does its half,
 * then calls crash_now().  Without crash points compiled in, these are empty
 * inline functions.  The module owns nothing.
 *
 * Points of the daemon, in the order one file meets them:
 *   after-parse        the file is aggregated, nothing is stored yet
 *   spool-mid-write    spool_put(): header and half the body written, no fsync
 *   spool-before-rename spool_put(): temp file complete and fsynced, not renamed
 *   spool-after-rename spool_put(): payload durable, before spool_put() returns
 *   after-spool-write  the payload is durable, the ledger does not know it
 *   ledger-mid-append  ledger_add(): half of the line written and synced
 *   after-ledger       the ledger recorded the file, the job not finished
 *   mid-delivery       the request body is sent, no answer read yet
 *   after-2xx          the central service accepted; the spool still has it
 *   spool-after-unlink spool_done(): file unlinked, directory not yet fsynced
 *   after-spool-done   the spool file is removed, memory not yet updated
 *
 * The counter behind ":N" is the only process-wide mutable state outside
 * main: it exists only in test builds.  Any thread.
 */
#ifndef ES_CRASH_H
#define ES_CRASH_H

#define ES_CRASH_EXIT 99   /* Exit status of a crash point. */

#ifdef ENABLE_CRASHPOINTS
/* 1 when this passage of name is the one EIDASTATS_CRASHPOINT asks to crash
 * at (the passage is counted), else 0. */
int crash_armed(const char *name);
/* Writes one line on stderr and _exit(ES_CRASH_EXIT)s. */
_Noreturn void crash_now(const char *name);
/* crash_now(name) if crash_armed(name). */
void crash_point(const char *name);
#else
static inline int crash_armed(const char *name) { (void)name; return 0; }
static inline void crash_now(const char *name) { (void)name; }
static inline void crash_point(const char *name) { (void)name; }
#endif

#endif
