#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif

#include <stdatomic.h>

#include "log.h"
#include "sdlog.h"

/* JOURNAL_STREAM is "device:inode" of the stream systemd connected to the
 * journal; it only counts if that is still our stderr (a child whose stderr
 * was redirected inherits the variable). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void sdlog_init(sdlog_t *lg, int detached, int verbose)
{
	lg->max_prio = verbose ? LOG_DEBUG : LOG_INFO;
	lg->sink = SDLOG_STDERR;
	atomic_store(&lg->relay_fd, -1);
#ifdef HAVE_SYSTEMD
	if (stderr_is_journal()) {
		lg->sink = SDLOG_JOURNAL;
		return;
	}
#else
	(void)stderr_is_journal;
#endif
	if (detached) {
		lg->sink = SDLOG_SYSLOG;
		openlog("eidastatsd", LOG_PID, LOG_DAEMON);
	}
}

void sdlog_fini(sdlog_t *lg)
{
	if (lg->sink == SDLOG_SYSLOG)
		closelog();
}

void sdlog_relay_start(sdlog_t *lg, int fd)
{
	atomic_store(&lg->relay_fd, fd);
}

void sdlog_relay_end(sdlog_t *lg, int ready)
{
	int fd = atomic_exchange(&lg->relay_fd, -1), null;
	ssize_t w = 0;

	if (fd < 0)
		return;
	if (ready)
		w = write(fd, "READY\n", 6);
	(void)w;
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, fd);   /* Keeps O_CLOEXEC off, but nothing is exec()ed. */
		close(null);
	}
}

/* One line to the start-up relay, if one is open. */
static void relay(const sdlog_t *lg, int prio, const char *msg)
{
	int fd = atomic_load(&((sdlog_t *)lg)->relay_fd);

	if (fd >= 0 && prio <= LOG_ERR)
		es_log_write(fd, "eidastatsd: %s\n", msg);
}

void sdlog_sink(void *ctx, int level, const char *msg)
{
	sdlog(ctx, level, NULL, 0, "%s", msg);
}

static const char *prio_name(int prio)
{
	switch (prio) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: return "alert";
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void sdlog(const sdlog_t *lg, int prio, const char *file, uint64_t payload, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (prio > lg->max_prio)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	relay(lg, prio, msg);

	switch (lg->sink) {
#ifdef HAVE_SYSTEMD
	case SDLOG_JOURNAL:
		if (file && payload)
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "EIDASTATS_FILE=%s", file,
			                "EIDASTATS_PAYLOAD=%016llx", (unsigned long long)payload, NULL);
		else if (file)
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "EIDASTATS_FILE=%s", file, NULL);
		else if (payload)
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio,
			                "EIDASTATS_PAYLOAD=%016llx", (unsigned long long)payload, NULL);
		else
			sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, NULL);
		return;
#endif
	case SDLOG_SYSLOG:
		syslog(prio, "%s", msg);
		return;
	default:
		/* One write per line keeps lines of concurrent threads whole. */
		if (file && payload)
			es_log_write(STDERR_FILENO, "eidastatsd[%d]: %s: %s (file %s, payload %016llx)\n",
			             (int)getpid(), prio_name(prio), msg, file, (unsigned long long)payload);
		else if (file)
			es_log_write(STDERR_FILENO, "eidastatsd[%d]: %s: %s (file %s)\n",
			             (int)getpid(), prio_name(prio), msg, file);
		else if (payload)
			es_log_write(STDERR_FILENO, "eidastatsd[%d]: %s: %s (payload %016llx)\n",
			             (int)getpid(), prio_name(prio), msg, (unsigned long long)payload);
		else
			es_log_write(STDERR_FILENO, "eidastatsd[%d]: %s: %s\n", (int)getpid(),
			             prio_name(prio), msg);
		return;
	}
}

int sdnotify(const char *msg)
{
#ifdef HAVE_SYSTEMD
	int rc = sd_notify(0, msg);
	return rc < 0 ? rc : rc > 0;
#else
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen;
	socklen_t salen;
	int fd, rc = 1;

	if (!path || !*path)
		return 0;
	plen = strlen(path);
	if (plen >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')     /* Abstract namespace. */
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		rc = -errno;
	close(fd);
	return rc;
#endif
}

int sdnotify_status(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n = snprintf(msg, sizeof msg, "STATUS=");

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	return sdnotify(msg);
}

uint64_t sdnotify_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (!us)
		return 0;
	/* The manager names the process it watches; a child must not answer. */
	if (pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(us, &end, 10);
	if (errno || *end || v == 0)
		return 0;
	return v;
}
