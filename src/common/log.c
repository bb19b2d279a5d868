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

void es_log_stderr(void *ctx, int level, const char *msg)
{
	char line[ES_LOG_MAX + 128];
	int n;

	if (level >= LOG_DEBUG)
		return;
	n = snprintf(line, sizeof line, "%s: %s\n", ctx ? (const char *)ctx : "eidastats", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	/* One write per line keeps lines of concurrent threads whole. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
