/*
 * Fuzz target: ledger record lines (ledger.h ledger_parse_line()).  The input
 * is split into lines as ledger_init() reads them; each line is parsed as
 * given, then once more with its CRC field set right (replacing the last 8
 * characters after a space, or appended), so that mutations reach the fields
 * behind the checksum.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "error.h"
#include "fuzz.h"
#include "ledger.h"

#define FUZZ_LINE_MAX 4096

static void parse(char *line, size_t len)
{
	ledger_rec_t r;
	char crc[9] = "";
	int rc;

	if (len >= 8)
		memcpy(crc, line + len - 8, 9);
	rc = ledger_parse_line(line, len, &r);
	FUZZ_CHECK(rc == 0 || rc == ES_EFORMAT || rc == ES_ECHECKSUM);
	if (rc == 0) {
		/* One spelling: the CRC as written, 8 lower-case hex digits. */
		FUZZ_CHECK(strspn(crc, "0123456789abcdef") == 8);
		FUZZ_CHECK(r.status == LEDGER_DONE || r.status == LEDGER_EMPTY);
		FUZZ_CHECK(memchr(r.name, '\0', sizeof r.name) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	char *line = malloc(FUZZ_LINE_MAX + 10);
	size_t start = 0;

	if (!line)
		return 0;
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - data) - start : size - start;

		if (len <= FUZZ_LINE_MAX) {
			size_t body;
			unsigned long crc;

			memcpy(line, data + start, len);
			line[len] = '\0';
			parse(line, len);

			memcpy(line, data + start, len);
			body = len >= 9 && line[len - 9] == ' ' ? len - 9 : len;
			crc = crc32(0L, (const Bytef *)line, (uInt)body);
			line[body] = ' ';
			for (int i = 0; i < 8; i++)
				line[body + 1 + i] = digits[(crc >> (28 - 4 * i)) & 15];
			line[body + 9] = '\0';
			parse(line, body + 9);
		}
		start += len + 1;
	}
	free(line);
	return 0;
}
