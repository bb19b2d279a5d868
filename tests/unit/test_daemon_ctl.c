/*
 * test_daemon_ctl.c - the control socket's command parser
 * (src/eidastatsd/ctl.c ctl_parse()): words, blanks, NUL bytes, unknown
 * commands and how they are echoed.
 */
#include "config.h"

#include <string.h>

#include "eidastatsd/ctl.h"
#include "unit.h"

static enum ctl_cmd parse(const char *text, size_t len, char *err, size_t errlen)
{
	static char line[CTL_MAX_LINE + 1];

	memcpy(line, text, len);
	line[len] = '\0';
	err[0] = '\0';
	return ctl_parse(line, len, err, errlen);
}

TEST(daemon_ctl_parse_commands)
{
	char err[512];

	ASSERT_EQ(parse("status", 6, err, sizeof err), CTL_CMD_STATUS);
	ASSERT_EQ(parse("help", 4, err, sizeof err), CTL_CMD_HELP);
	ASSERT_EQ(parse("rescan", 6, err, sizeof err), CTL_CMD_RESCAN);
	ASSERT_EQ(parse("retry", 5, err, sizeof err), CTL_CMD_RETRY);
	ASSERT_EQ(parse("reload", 6, err, sizeof err), CTL_CMD_RELOAD);
	ASSERT_EQ(parse(" \tstatus \t\r", 11, err, sizeof err), CTL_CMD_STATUS);
	ASSERT_STREQ(err, "");
	ASSERT_EQ(parse("", 0, err, sizeof err), CTL_CMD_EMPTY);
	ASSERT_EQ(parse(" \t\r", 3, err, sizeof err), CTL_CMD_EMPTY);
}

TEST(daemon_ctl_parse_refused)
{
	char err[512];

	ASSERT_EQ(parse("stat\0us", 7, err, sizeof err), CTL_CMD_BAD);
	ASSERT_STREQ(err, "a command is text without NUL bytes");
	ASSERT_EQ(parse("Status", 6, err, sizeof err), CTL_CMD_BAD);
	ASSERT_STREQ(err, "unknown command 'Status'; commands: status, rescan, retry, reload, help");
	ASSERT_EQ(parse("status now", 10, err, sizeof err), CTL_CMD_BAD);
	/* Quotes, backslashes and control bytes are shown escaped. */
	ASSERT_EQ(parse("a'b\\c\x01", 6, err, sizeof err), CTL_CMD_BAD);
	ASSERT_STREQ(err, "unknown command 'a\\x27b\\x5cc\\x01'; commands: status, rescan, retry, reload, help");
	/* A long word is cut after 41 bytes. */
	{
		char big[CTL_MAX_LINE];
		memset(big, 'x', sizeof big - 1);
		ASSERT_EQ(parse(big, sizeof big - 1, err, sizeof err), CTL_CMD_BAD);
		ASSERT(strstr(err, "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'") != NULL);
	}
	/* A short buffer gets a cut, terminated message. */
	ASSERT_EQ(parse("nope", 4, err, 8), CTL_CMD_BAD);
	ASSERT_EQ(strlen(err), 7);
}
