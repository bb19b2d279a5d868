/*
 * Fuzz target: a spool file's header (spool.h spool_header_decode()).  The
 * input is the header (cut or zero-padded to SPOOL_HEADER_SIZE bytes);
 * it is checked as given, then with its magic and header checksum set right
 * so that mutations reach the fields behind them.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "error.h"
#include "fuzz.h"
#include "spool.h"

#define OFF_HDR_SHA 360

static void check(const uint8_t *h)
{
	spool_entry_t e;
	uint8_t body_sha[32];
	const char *why = NULL;
	int rc = spool_header_decode(h, &e, body_sha, &why);

	FUZZ_CHECK(rc == 0 || rc == ES_ECHECKSUM || rc == -EIO);
	if (rc == 0) {
		FUZZ_CHECK(e.size <= SPOOL_MAX_BODY);
		FUZZ_CHECK(memchr(e.source, '\0', sizeof e.source) != NULL);
	} else {
		FUZZ_CHECK(why != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h[SPOOL_HEADER_SIZE];

	memset(h, 0, sizeof h);
	memcpy(h, data, size < sizeof h ? size : sizeof h);
	check(h);
	memcpy(h, "ESPOOL1\n", 8);
	if (EVP_Digest(h, OFF_HDR_SHA, h + OFF_HDR_SHA, NULL, EVP_sha256(), NULL))
		check(h);
	return 0;
}
