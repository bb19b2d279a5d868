#include "config.h"

#include <string.h>

#include "error.h"
#include "ingestd/acl.h"
#include "unit.h"

TEST(ingestd_acl)
{
	struct acl a;
	char why[128];

	ASSERT_OK(acl_parse(&a, ACL_DEFAULT, why, sizeof why));
	ASSERT_EQ(a.n, 2);
	ASSERT(acl_allows(&a, "127.0.0.1"));
	ASSERT(acl_allows(&a, "127.255.0.9"));
	ASSERT(acl_allows(&a, "::1"));
	ASSERT(acl_allows(&a, "::ffff:127.0.0.2"));
	ASSERT(!acl_allows(&a, "128.0.0.1"));
	ASSERT(!acl_allows(&a, "::2"));
	ASSERT(!acl_allows(&a, "-"));
	ASSERT(!acl_allows(&a, NULL));

	ASSERT_OK(acl_parse(&a, "127.0.0.1/32,10.1.0.0/17 2001:db8::/33", why, sizeof why));
	ASSERT_EQ(a.n, 3);
	ASSERT(acl_allows(&a, "127.0.0.1"));
	ASSERT(!acl_allows(&a, "127.0.0.2"));
	ASSERT(acl_allows(&a, "10.1.127.255"));
	ASSERT(!acl_allows(&a, "10.1.128.0"));
	ASSERT(acl_allows(&a, "2001:db8:7fff::1"));
	ASSERT(!acl_allows(&a, "2001:db8:8000::1"));
	ASSERT_OK(acl_parse(&a, "0.0.0.0/0", why, sizeof why));
	ASSERT(acl_allows(&a, "192.0.2.1"));
	ASSERT(!acl_allows(&a, "2001:db8::1"));
	ASSERT_OK(acl_parse(&a, "", why, sizeof why));
	ASSERT(!acl_allows(&a, "127.0.0.1"));

	ASSERT_ERR(acl_parse(&a, "localhost", why, sizeof why), ES_ECONFIG);
	ASSERT(strstr(why, "'localhost'") != NULL);
	ASSERT_ERR(acl_parse(&a, "127.0.0.1/33", why, sizeof why), ES_ECONFIG);
	ASSERT_ERR(acl_parse(&a, "::1/129", why, sizeof why), ES_ECONFIG);
	ASSERT_ERR(acl_parse(&a, "10.0.0.0/", why, sizeof why), ES_ECONFIG);
	ASSERT_ERR(acl_parse(&a, "10.0.0.0/-1", why, sizeof why), ES_ECONFIG);
	ASSERT_ERR(acl_parse(&a, "10.0.0.0/8x", why, sizeof why), ES_ECONFIG);
	ASSERT_ERR(acl_parse(&a, "1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 "
	                         "1.1.1.9 1.1.1.10 1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 1.1.1.16 "
	                         "1.1.1.17 1.1.1.18 1.1.1.19 1.1.1.20 1.1.1.21 1.1.1.22 1.1.1.23 1.1.1.24 "
	                         "1.1.1.25 1.1.1.26 1.1.1.27 1.1.1.28 1.1.1.29 1.1.1.30 1.1.1.31 1.1.1.32 "
	                         "1.1.1.33", why, sizeof why), ES_ECONFIG);
}
