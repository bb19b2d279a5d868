/*
 * sdlog.h - logging and service-manager notification of eidastatsd.
 *
 * A log line has a syslog priority, a message and two optional fields: the
 * log file it concerns and the spool payload id.  Where it goes is decided
 * once by sdlog_init():
 *  - SDLOG_JOURNAL: stderr is connected to the journal (systemd exports
 *    JOURNAL_STREAM=dev:ino of that stream) and libsystemd is built in; the
 *    line is sent with sd_journal_send() and carries EIDASTATS_FILE= and
 *    EIDASTATS_PAYLOAD= fields that `journalctl EIDASTATS_FILE=...` selects;
 *  - SDLOG_STDERR: "eidastatsd[pid]: LEVEL: message (file F, payload N)";
 *  - SDLOG_SYSLOG: the daemon detached from its terminal without systemd.
 * Lines are formatted into one buffer and written with one call, so lines of
 * worker threads never interleave; every function here is thread-safe.
 *
 * The sdnotify_* functions speak the sd_notify protocol to $NOTIFY_SOCKET
 * (READY=1, STATUS=, WATCHDOG=1, STOPPING=1, RELOADING=1); they do nothing
 * when the variable is unset.  Without libsystemd the protocol is spoken
 * directly (one datagram to an AF_UNIX socket), so Type=notify works either
 * way.
 *
 * Ownership: an sdlog_t is a small value owned by the daemon; it holds no
 * resources beyond an optional openlog().
 */
#ifndef ESD_SDLOG_H
#define ESD_SDLOG_H

#include <stdint.h>
#include <syslog.h>

enum sdlog_sink {
	SDLOG_STDERR = 0,
	SDLOG_JOURNAL = 1,
	SDLOG_SYSLOG = 2
};

typedef struct sdlog {
	enum sdlog_sink sink;
	int max_prio;       /* Lines of a larger (less severe) priority are dropped. */
	/* While the daemon starts detached: errors are also written here, one
	 * "eidastatsd: message" line each, for the waiting parent to show. */
	_Atomic int relay_fd;   /* -1: none */
} sdlog_t;

/* Chooses the sink: journal if JOURNAL_STREAM names our stderr (and the
 * journal is built in), syslog if detached, else stderr.  verbose adds
 * LOG_DEBUG lines. */
void sdlog_init(sdlog_t *lg, int detached, int verbose);
void sdlog_fini(sdlog_t *lg);

/* Start-up relay of a detached daemon (a pipe to the parent that waits):
 * from now on LOG_ERR and worse lines also go to fd. */
void sdlog_relay_start(sdlog_t *lg, int fd);
/* Ends the relay: writes "READY\n" if ready (start-up succeeded), then
 * turns fd into /dev/null (it stays a valid descriptor for threads that
 * may still be writing) and stops relaying.  Loop thread. */
void sdlog_relay_end(sdlog_t *lg, int ready);

/* A log sink (log.h) for the libraries: ctx is the sdlog_t. */
void sdlog_sink(void *ctx, int level, const char *msg);

/* Logs one line.  file (base name of a log file) may be NULL; payload 0
 * means none. */
void sdlog(const sdlog_t *lg, int prio, const char *file, uint64_t payload,
           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sends one sd_notify message (e.g. "READY=1\nSTATUS=watching").  Returns
 * 1 if sent, 0 when not under a service manager, or -errno. */
int sdnotify(const char *msg);
/* Formats and sends STATUS=<text>. */
int sdnotify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Watchdog interval the manager asked for, in microseconds; 0 if none. */
uint64_t sdnotify_watchdog_usec(void);

#endif
