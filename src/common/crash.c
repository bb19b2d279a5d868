#include "config.h"

#ifdef ENABLE_CRASHPOINTS
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash.h"

int crash_armed(const char *name)
{
	static atomic_long passages;
	const char *want = getenv("EIDASTATS_CRASHPOINT");
	size_t n = strlen(name);
	long nth = 1;

	if (!want || strncmp(want, name, n) != 0)
		return 0;
	if (want[n] == ':')
		nth = strtol(want + n + 1, NULL, 10);
	else if (want[n] != '\0')
		return 0;
	return atomic_fetch_add(&passages, 1) + 1 >= nth;
}

_Noreturn void crash_now(const char *name)
{
	/* A message helps a human reading the test log; write(2) is all a crash may do. */
	char msg[128];
	int len = snprintf(msg, sizeof msg, "eidastats: crash point '%s' reached\n", name);
	if (len > 0) {
		ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
		(void)w;
	}
	_exit(ES_CRASH_EXIT);
}

void crash_point(const char *name)
{
	if (crash_armed(name))
		crash_now(name);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int crash_points_disabled;
#endif
