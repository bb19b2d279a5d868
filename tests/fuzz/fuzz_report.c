/* Fuzz target: eidastats-report's settings file (settings.h rpt_settings_load_text()), then its mail keys. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "report/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpt_settings s;
	char err[512];
	int rc;

	rpt_settings_init(&s);
	memset(err, 'x', sizeof err);
	rc = rpt_settings_load_text(&s, (const char *)data, size, "fuzz.yaml", err, sizeof err);
	if (rc == 0) {
		memset(err, 'x', sizeof err);
		rc = rpt_settings_check_mail(&s, err, sizeof err);
		if (rc == 0)
			FUZZ_CHECK(s.smtp_url && s.smtp_from && s.mail_delay >= 0 &&
			           s.mail_delay <= RPT_MAX_MAIL_DELAY);
		else
			FUZZ_CHECK(rc == ES_ECONFIG && memchr(err, '\0', sizeof err) != NULL);
	} else {
		FUZZ_CHECK(rc == ES_ECONFIG || rc == -ENOMEM);
		FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
		FUZZ_CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
	}
	rpt_settings_fini(&s);
	return 0;
}
