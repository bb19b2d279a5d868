#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const es_messages[] = {
	[-(ES_EFORMAT - ES_EBASE)]    = "malformed data",
	[-(ES_ECORRUPT - ES_EBASE)]   = "corrupt compressed data",
	[-(ES_ETRUNC - ES_EBASE)]     = "truncated compressed data",
	[-(ES_ELIMIT - ES_EBASE)]     = "limit exceeded",
	[-(ES_EPARAM - ES_EBASE)]     = "HLL parameters other than (11,5,auto,sparse)",
	[-(ES_ENOSTATS - ES_EBASE)]   = "no statistics in the input",
	[-(ES_EREFUSED - ES_EBASE)]   = "network code refused by the registry",
	[-(ES_EUNAVAIL - ES_EBASE)]   = "network registry unavailable",
	[-(ES_ECONFIG - ES_EBASE)]    = "invalid configuration",
	[-(ES_EHTTP - ES_EBASE)]      = "HTTP error status",
	[-(ES_ECHECKSUM - ES_EBASE)]  = "checksum mismatch",
	[-(ES_EDUPLICATE - ES_EBASE)] = "already done",
	[-(ES_EAUTH - ES_EBASE)]      = "authentication refused",
	[-(ES_ENET - ES_EBASE)]       = "network transport failure",
	[-(ES_EINTERNAL - ES_EBASE)]  = "internal error",
};

const char *es_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err < ES_EBASE && err > ES_ELAST) {
		const char *m = es_messages[-(err - ES_EBASE)];
		return m ? m : "unknown error";
	}
	if (err < 0 && err > ES_EBASE)
		return strerror(-err);
	return "unknown error";
}

void es_errf(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}
