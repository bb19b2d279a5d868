/*
 * log.h - how library code reports what it cannot return: a log sink the
 * program passes in.
 *
 * Libraries never print.  A module that has something to say beyond its
 * return value (the spool quarantining a damaged file, the network registry
 * failing to answer) takes a `const struct es_log *` from its caller and
 * sends each message, one line without a newline, to it.  Each program
 * routes every sink to its one destination: the daemon to its journal /
 * syslog / stderr logger (sdlog), the CLI to stderr (es_log_stderr), so a
 * message never vanishes when the daemon has detached from its terminal.
 * A NULL sink (or a NULL fn) drops the messages: only tests do that.
 *
 * Levels are syslog's priorities (LOG_ERR, LOG_WARNING, LOG_NOTICE,
 * LOG_INFO, LOG_DEBUG from <syslog.h>).
 *
 * Ownership: the caller owns the struct and whatever ctx points to; both
 * must outlive every module it was given to.  Thread safety: es_log_msg()
 * may be called from any thread, so fn must be thread-safe.
 */
#ifndef ES_LOG_H
#define ES_LOG_H

#include <syslog.h>

struct es_log {
	void (*fn)(void *ctx, int level, const char *msg);
	void *ctx;
};

/* Formats one message (at most ES_LOG_MAX - 1 bytes, cut beyond) and hands it to lg. */
void es_log_msg(const struct es_log *lg, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define ES_LOG_MAX 1024

/* Formats one line (cut at ES_LOG_MAX + 512 bytes) and writes it to fd with
 * one write(2), so that lines of concurrent threads never interleave; for
 * sinks.  Errors are ignored: there is nowhere left to tell them. */
void es_log_write(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A sink for command-line programs: "NAME: message\n" on stderr in one
 * write, NAME being ctx (a const char *, e.g. "eidastats"); LOG_DEBUG
 * lines are dropped. */
void es_log_stderr(void *ctx, int level, const char *msg);

#endif
