/*
 * peer.h - who a request comes from: the list of trusted proxies (the
 * setting trusted_proxies) and the client address found through them; the
 * same address lists say who may read PREFIX/metrics (metrics_allow).
 *
 * A client address is the peer's (the TCP connection's), unless the peer is
 * a trusted proxy: then X-Forwarded-For is read from the right, and the
 * first address that is not itself a trusted proxy is the client (when
 * every one is trusted, the leftmost).  A malformed entry stops the walk:
 * the last trusted hop is then the client, never a text the client wrote.
 * The per-client limits (max_queries_per_client) and the access log use it.
 *
 * A peer_list is a plain value (fixed array, no allocation): peer_list_parse()
 * fills it, the other functions only read it.  No state; any thread.
 */
#ifndef ES_INGEST_PEER_H
#define ES_INGEST_PEER_H

#include <stdbool.h>
#include <stddef.h>

#define PEER_MAX_NETS 64
#define PEER_ADDR_LEN 46        /* INET6_ADDRSTRLEN */
/* Loopback: the default of metrics_allow. */
#define PEER_LOOPBACK "127.0.0.0/8, ::1"

/* One address or network; IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d). */
struct peer_net {
	unsigned char addr[16];
	unsigned bits;          /* Prefix length over the 128 bits. */
};

struct peer_list {
	struct peer_net net[PEER_MAX_NETS];
	size_t n;
};

/*
 * Parses "ADDR[/LEN], ADDR[/LEN] ..." (commas or blanks between; IPv4 or
 * IPv6; "" is the empty list) into l.  0, or ES_EFORMAT / ES_ELIMIT (more
 * than PEER_MAX_NETS) with why set ("'TEXT' is not an address or CIDR").
 */
int peer_list_parse(struct peer_list *l, const char *text, char *why, size_t wlen);
/* Whether the textual address addr lies in one of l's networks (false for a bad or NULL address). */
bool peer_list_has(const struct peer_list *l, const char *addr);
/*
 * The client address of a request from peer (textual) with the
 * X-Forwarded-For header values xff[0..nxff) in the order received (each
 * "A, B, C"), into out (PEER_ADDR_LEN bytes).  Returns true when the
 * client differs from the peer (the header was honoured).
 */
bool peer_client(const struct peer_list *l, const char *peer, const char *const *xff,
                 size_t nxff, char *out, size_t cap);

#endif
