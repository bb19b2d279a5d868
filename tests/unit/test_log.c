/*
 * test_log.c - the library log sink (src/common/log.c) and a library that
 * speaks through it (the spool) instead of printing.
 */
#include "config.h"

#include "log.h"
#include "spool.h"
#include "unit.h"

struct capture {
	int n, level;
	char last[ES_LOG_MAX];
};

static void capture_fn(void *ctx, int level, const char *msg)
{
	struct capture *c = ctx;
	c->n++;
	c->level = level;
	snprintf(c->last, sizeof c->last, "%s", msg);
}

TEST(log_sink_formats_and_drops)
{
	struct capture c = { 0 };
	struct es_log lg = { capture_fn, &c };
	char big[3000];

	es_log_msg(&lg, LOG_WARNING, "file %s: %d", "x.log", 42);
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.level, LOG_WARNING);
	ASSERT_STREQ(c.last, "file x.log: 42");
	/* Long messages are cut to the limit, not overflowed. */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	es_log_msg(&lg, LOG_ERR, "%s", big);
	ASSERT_EQ(c.n, 2);
	ASSERT_EQ(strlen(c.last), ES_LOG_MAX - 1);
	/* No sink: dropped, no crash. */
	es_log_msg(NULL, LOG_ERR, "nobody hears this");
	lg.fn = NULL;
	es_log_msg(&lg, LOG_ERR, "nor this");
	ASSERT_EQ(c.n, 2);
}

TEST(log_spool_quarantine_goes_to_the_sink)
{
	struct capture c = { 0 };
	struct es_log lg = { capture_fn, &c };
	spool_t *sp;
	size_t moved;

	ASSERT_OK(spool_init_ex(&sp, unit_tmpdir(), 1 << 20, &moved, &lg));
	spool_fini(sp);
	ASSERT_EQ(c.n, 0);
	unit_write(unit_tmp("spool/0000000000000007.payload"), "torn", 4);
	ASSERT_OK(spool_init_ex(&sp, unit_tmpdir(), 1 << 20, &moved, &lg));
	ASSERT_EQ(moved, 1);
	ASSERT_EQ(c.n, 1);
	ASSERT_EQ(c.level, LOG_WARNING);
	ASSERT(strstr(c.last, "0000000000000007.payload is unusable") != NULL);
	ASSERT(strstr(c.last, "moved to bad/") != NULL);
	spool_fini(sp);
}
