/* Fuzz target: the central service's settings file (settings.h ingest_config_load_buffer()). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "ingestd/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_config c;
	char err[512], warn[512];
	int rc;

	ingest_config_init(&c);
	memset(err, 'x', sizeof err);
	rc = ingest_config_load_buffer(&c, "fuzz.yaml", (const char *)data, size, err, sizeof err);
	if (rc == 0) {
		FUZZ_CHECK(c.workers >= 1 && c.workers <= INGEST_MAX_WORKERS);
		FUZZ_CHECK(c.max_body <= INGEST_MAX_SIZE && c.max_decompressed <= INGEST_MAX_SIZE);
		FUZZ_CHECK(c.timeout <= INGEST_MAX_TIMEOUT);
		if (ingest_config_check(&c, err, sizeof err) == 0)
			FUZZ_CHECK(c.db != NULL);
		(void)ingest_config_warning(&c, warn, sizeof warn);
		(void)ingest_config_read_db(&c);
	} else {
		FUZZ_CHECK(rc == ES_ECONFIG || rc == -ENOMEM);
		FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
		FUZZ_CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
	}
	ingest_config_fini(&c);
	return 0;
}
