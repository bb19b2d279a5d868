/*
 * Fuzz target: what eidastatsd's control socket receives (ctl.h
 * ctl_parse()).  The input is split into lines the way the socket's read
 * callback does (at '\n', lines of at most CTL_MAX_LINE bytes; a last line
 * without its newline is a command too), each line parsed in its own buffer.
 */
#include "config.h"

#include <string.h>

#include "eidastatsd/ctl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(CTL_MAX_LINE + 1);
	size_t start = 0;

	if (!line)
		return 0;
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - data) - start : size - start;
		char err[512];
		enum ctl_cmd cmd;

		if (len >= CTL_MAX_LINE)
			break;   /* The daemon answers "line longer than ..." and closes. */
		memcpy(line, data + start, len);
		line[len] = '\0';
		err[0] = '\0';
		cmd = ctl_parse(line, len, err, sizeof err);
		FUZZ_CHECK(cmd >= CTL_CMD_EMPTY && cmd <= CTL_CMD_BAD);
		if (cmd == CTL_CMD_BAD)
			FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof err);
		start += len + 1;
	}
	free(line);
	return 0;
}
