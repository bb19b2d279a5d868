/* Fuzz target: the node daemon's settings file (cfg.h cfg_load_buffer()). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cfg.h"
#include "error.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cfg_t cfg;
	char err[512];
	int rc;

	memset(err, 'x', sizeof err);
	rc = cfg_load_buffer(&cfg, "fuzz.yaml", (const char *)data, size, err, sizeof err);
	if (rc == 0) {
		FUZZ_CHECK(cfg.log_directory && cfg.log_directory[0] == '/');
		FUZZ_CHECK(cfg.workers >= 1 && cfg.workers <= CFG_MAX_WORKERS);
		FUZZ_CHECK(cfg.central.retry_initial > 0 &&
		           cfg.central.retry_initial <= cfg.central.retry_max);
		FUZZ_CHECK(!cfg.central.url || cfg.central.token_file);
	} else {
		FUZZ_CHECK(rc == ES_ECONFIG || rc == -ENOMEM);
		FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
		FUZZ_CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
	}
	cfg_fini(&cfg);
	return 0;
}
