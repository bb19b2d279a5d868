#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

void es_log_msg(const struct es_log *lg, int level, const char *fmt, ...)
{
	char msg[ES_LOG_MAX];
	va_list ap;

	if (!lg || !lg->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lg->fn(lg->ctx, level, msg);
}

void es_log_write(int fd, const char *fmt, ...)
{
	char line[ES_LOG_MAX + 512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	ssize_t w = write(fd, line, (size_t)n);
	(void)w;
}

void es_log_stderr(void *ctx, int level, const char *msg)
{
	if (level < LOG_DEBUG)
		es_log_write(STDERR_FILENO, "%s: %s\n", ctx ? (const char *)ctx : "eidastats", msg);
}
