#include "config.h"

#include "curlx.h"
#include "unit.h"

/* Only http and https: a file:// URL is refused before anything is read. */
TEST(curlx_refuses_other_protocols)
{
	static const char *const urls[] = { "file:///etc/hostname", "ftp://127.0.0.1:9/x",
	                                    "gopher://127.0.0.1:9/", "dict://127.0.0.1:9/d" };
	CURL *c;

	ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		c = curlx_easy_new();
		ASSERT(c != NULL);
		curl_easy_setopt(c, CURLOPT_URL, urls[i]);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
		CURLcode cc = curl_easy_perform(c);
		if (cc != CURLE_UNSUPPORTED_PROTOCOL)
			unit_fail(__FILE__, __LINE__, "%s: %s", urls[i], curl_easy_strerror(cc));
		curl_easy_cleanup(c);
	}
	ASSERT_STREQ(CURLX_USER_AGENT, "eidastats/" PACKAGE_VERSION);
	curl_global_cleanup();
}
