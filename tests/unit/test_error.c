#include "config.h"

#include <errno.h>

#include "unit.h"

TEST(error_strerror_covers_every_code)
{
	ASSERT_STREQ(es_strerror(0), "success");
	ASSERT_STREQ(es_strerror(-ENOENT), strerror(ENOENT));
	for (int e = ES_EFORMAT; e > ES_ELAST; e--)
		ASSERT(strcmp(es_strerror(e), "unknown error") != 0);
	ASSERT_STREQ(es_strerror(ES_ELAST), "unknown error");
	ASSERT_STREQ(es_strerror(5), "unknown error");
}
