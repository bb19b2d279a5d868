/*
 * Fuzz target: the signed text of an EIDA token (eas.h eas_token_parse()),
 * the part eidastats parses itself once GnuPG has verified the signature;
 * also its time syntax (eas_parse_time()).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "eas.h"
#include "error.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eas_token t;
	const char *why = NULL;
	int rc;

	memset(&t, 0, sizeof t);
	rc = eas_token_parse(&t, (const char *)data, size, &why);
	FUZZ_CHECK(rc == 0 || rc == ES_EFORMAT || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_CHECK(t.ngroups <= EAS_MAX_GROUPS);
		for (size_t i = 0; i < t.ngroups; i++)
			FUZZ_CHECK(t.groups[i] && t.groups[i][0] != '\0' && !strchr(t.groups[i], ';'));
		(void)eas_token_expired(&t, 0);
	} else if (rc == ES_EFORMAT) {
		FUZZ_CHECK(why != NULL);
	}
	eas_token_fini(&t);

	if (size < 64) {
		char s[64];
		int64_t us;
		memcpy(s, data, size);
		s[size] = '\0';
		(void)eas_parse_time(s, &us);
	}
	return 0;
}
