/* Fuzz target: the "finished" date of a request line (request.h req_parse_date()). */
#include "config.h"

#include "cal.h"
#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int y = 0, m = 0, d = 0;

	if (req_parse_date((const char *)data, size, &y, &m, &d) == 0) {
		FUZZ_CHECK(y >= 1 && y <= 9999);
		FUZZ_CHECK(m >= 1 && m <= 12);
		FUZZ_CHECK(cal_valid_ymd(y, m, d));
	}
	return 0;
}
