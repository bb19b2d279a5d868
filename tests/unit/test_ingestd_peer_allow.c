#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "ingestd/peer.h"
#include "unit.h"

/* metrics_allow: a peer list used as an allow list. */
TEST(ingestd_peer_allow_list)
{
	struct peer_list a;
	char why[128];

	ASSERT_OK(peer_list_parse(&a, PEER_LOOPBACK, why, sizeof why));
	ASSERT_EQ(a.n, 2);
	ASSERT(peer_list_has(&a, "127.0.0.1"));
	ASSERT(peer_list_has(&a, "127.255.0.9"));
	ASSERT(peer_list_has(&a, "::1"));
	ASSERT(peer_list_has(&a, "::ffff:127.0.0.2"));
	ASSERT(!peer_list_has(&a, "128.0.0.1"));
	ASSERT(!peer_list_has(&a, "::2"));
	ASSERT(!peer_list_has(&a, "-"));
	ASSERT(!peer_list_has(&a, NULL));

	ASSERT_OK(peer_list_parse(&a, "127.0.0.1/32,10.1.0.0/17 2001:db8::/33", why, sizeof why));
	ASSERT_EQ(a.n, 3);
	ASSERT(peer_list_has(&a, "127.0.0.1"));
	ASSERT(!peer_list_has(&a, "127.0.0.2"));
	ASSERT(peer_list_has(&a, "10.1.127.255"));
	ASSERT(!peer_list_has(&a, "10.1.128.0"));
	ASSERT(peer_list_has(&a, "2001:db8:7fff::1"));
	ASSERT(!peer_list_has(&a, "2001:db8:8000::1"));
	ASSERT_OK(peer_list_parse(&a, "0.0.0.0/0", why, sizeof why));
	ASSERT(peer_list_has(&a, "192.0.2.1"));
	ASSERT(!peer_list_has(&a, "2001:db8::1"));
	ASSERT_OK(peer_list_parse(&a, "", why, sizeof why));
	ASSERT(!peer_list_has(&a, "127.0.0.1"));

	ASSERT_ERR(peer_list_parse(&a, "localhost", why, sizeof why), ES_EFORMAT);
	ASSERT(strstr(why, "'localhost'") != NULL);
	ASSERT_ERR(peer_list_parse(&a, "127.0.0.1/33", why, sizeof why), ES_EFORMAT);
	ASSERT_ERR(peer_list_parse(&a, "::1/129", why, sizeof why), ES_EFORMAT);
	ASSERT_ERR(peer_list_parse(&a, "10.0.0.0/", why, sizeof why), ES_EFORMAT);
	ASSERT_ERR(peer_list_parse(&a, "10.0.0.0/-1", why, sizeof why), ES_EFORMAT);
	ASSERT_ERR(peer_list_parse(&a, "10.0.0.0/8x", why, sizeof why), ES_EFORMAT);
	{
		char many[65 * 12] = "";
		for (int k = 1; k <= PEER_MAX_NETS + 1; k++)
			snprintf(many + strlen(many), sizeof many - strlen(many), "1.1.1.%d ", k);
		ASSERT_ERR(peer_list_parse(&a, many, why, sizeof why), ES_ELIMIT);
	}
}
