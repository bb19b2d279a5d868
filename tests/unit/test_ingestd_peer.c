/* peer.h (trusted proxies, X-Forwarded-For) and climit.h (queries per client). */
#include "config.h"

#include <string.h>

#include "error.h"

#include "ingestd/climit.h"
#include "ingestd/peer.h"
#include "unit.h"

TEST(peer_list_parse_forms)
{
	struct peer_list l;
	char why[128];

	ASSERT_OK(peer_list_parse(&l, "", why, sizeof why));
	ASSERT_EQ(l.n, 0);
	ASSERT_OK(peer_list_parse(&l, "127.0.0.3, 10.1.2.3/8 ::1,fd00::/8", why, sizeof why));
	ASSERT_EQ(l.n, 4);
	ASSERT(peer_list_has(&l, "127.0.0.3"));
	ASSERT(!peer_list_has(&l, "127.0.0.4"));
	ASSERT(peer_list_has(&l, "10.200.0.1"));
	ASSERT(!peer_list_has(&l, "11.0.0.1"));
	ASSERT(peer_list_has(&l, "::1"));
	ASSERT(peer_list_has(&l, "fd12::5"));
	ASSERT(!peer_list_has(&l, "fe80::1"));
	ASSERT(!peer_list_has(&l, "not-an-address"));
	/* An IPv4 network also holds the IPv4-mapped IPv6 spelling. */
	ASSERT(peer_list_has(&l, "::ffff:10.0.0.9"));
}

TEST(peer_list_parse_refuses)
{
	struct peer_list l;
	char why[128], many[64 * 16 + 16] = "";
	const char *bad[] = { "host.example", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x",
	                      "::1/129", "1.2.3.4/8x", "1.2.3" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASSERT_ERR(peer_list_parse(&l, bad[i], why, sizeof why), ES_EFORMAT);
		ASSERT(strstr(why, "is not an address or CIDR") != NULL);
	}
	for (int i = 0; i <= PEER_MAX_NETS; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "10.0.0.%d ", i);
	ASSERT_ERR(peer_list_parse(&l, many, why, sizeof why), ES_ELIMIT);
}

TEST(peer_client_rightmost_untrusted)
{
	struct peer_list l;
	char why[128], out[PEER_ADDR_LEN];
	const char *one[] = { "203.0.113.9, 198.51.100.7, 10.0.0.2" };
	const char *two[] = { "203.0.113.9", "198.51.100.7" };
	const char *spoof[] = { "garbage, 198.51.100.7" };
	const char *bad[] = { "198.51.100.7, not-an-ip" };
	const char *alltrusted[] = { "10.0.0.5, 10.0.0.2" };
	const char *empty[] = { "" };

	ASSERT_OK(peer_list_parse(&l, "127.0.0.3 10.0.0.0/8", why, sizeof why));
	/* From an untrusted peer the header is ignored. */
	ASSERT(!peer_client(&l, "127.0.0.1", one, 1, out, sizeof out));
	ASSERT(strcmp(out, "127.0.0.1") == 0);
	/* From a trusted one: the rightmost address that is not a proxy. */
	ASSERT(peer_client(&l, "127.0.0.3", one, 1, out, sizeof out));
	ASSERT(strcmp(out, "198.51.100.7") == 0);
	/* Several headers are one list, the last header rightmost. */
	ASSERT(peer_client(&l, "127.0.0.3", two, 2, out, sizeof out));
	ASSERT(strcmp(out, "198.51.100.7") == 0);
	/* What the client itself wrote left of the first untrusted hop does not count. */
	ASSERT(peer_client(&l, "127.0.0.3", spoof, 1, out, sizeof out));
	ASSERT(strcmp(out, "198.51.100.7") == 0);
	/* A malformed hop stops the walk at the last trusted one. */
	ASSERT(!peer_client(&l, "127.0.0.3", bad, 1, out, sizeof out));
	ASSERT(strcmp(out, "127.0.0.3") == 0);
	/* Every hop trusted: the leftmost. */
	ASSERT(peer_client(&l, "127.0.0.3", alltrusted, 1, out, sizeof out));
	ASSERT(strcmp(out, "10.0.0.5") == 0);
	ASSERT(!peer_client(&l, "127.0.0.3", empty, 1, out, sizeof out));
	ASSERT(!peer_client(&l, "127.0.0.3", NULL, 0, out, sizeof out));
	ASSERT(strcmp(out, "127.0.0.3") == 0);
}

TEST(climit_take_give)
{
	struct climit *c = climit_new(2);

	ASSERT_OK(climit_take(c, "10.0.0.1", 2));
	ASSERT_OK(climit_take(c, "10.0.0.1", 2));
	ASSERT_ERR(climit_take(c, "10.0.0.1", 2), ES_ELIMIT);
	ASSERT_EQ(climit_held(c, "10.0.0.1"), 2);
	ASSERT_OK(climit_take(c, "10.0.0.2", 2));
	/* The table holds cap clients; a third is refused until one leaves. */
	ASSERT_ERR(climit_take(c, "10.0.0.3", 2), ES_ELIMIT);
	climit_give(c, "10.0.0.2");
	ASSERT_EQ(climit_held(c, "10.0.0.2"), 0);
	ASSERT_OK(climit_take(c, "10.0.0.3", 2));
	climit_give(c, "10.0.0.1");
	ASSERT_OK(climit_take(c, "10.0.0.1", 2));
	/* A reload that lowers the limit refuses at once. */
	ASSERT_ERR(climit_take(c, "10.0.0.1", 1), ES_ELIMIT);
	climit_give(c, "10.0.0.9");   /* Unknown: nothing happens. */
	ASSERT_EQ(climit_held(c, "10.0.0.3"), 1);
	climit_free(c);
}
