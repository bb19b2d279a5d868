/*
 * acl.h - a list of addresses and networks (CIDR) allowed to call a route:
 * the setting metrics_allow.  Written "127.0.0.0/8, ::1" (commas or spaces
 * between entries; an address without /BITS is one host).  An IPv4 client
 * reaching an IPv6 wildcard socket ("::ffff:127.0.0.1") is matched as IPv4.
 *
 * A struct acl is a plain value (fixed size, no pointers: copied by
 * assignment, nothing to free).  Pure functions; any thread.
 */
#ifndef ES_INGEST_ACL_H
#define ES_INGEST_ACL_H

#include <stdbool.h>
#include <stddef.h>

#define ACL_MAX 32
#define ACL_DEFAULT "127.0.0.0/8, ::1"

struct acl_entry {
	int family;               /* AF_INET or AF_INET6. */
	unsigned bits;            /* Prefix length. */
	unsigned char addr[16];   /* Network bytes (4 used for AF_INET). */
};

struct acl {
	size_t n;
	struct acl_entry e[ACL_MAX];
};

/* Parses text into *a (replaced): 0, or ES_ECONFIG with why ("'x': not an
 * address or ADDR/BITS", "more than 32 entries").  An empty text allows nobody. */
int acl_parse(struct acl *a, const char *text, char *why, size_t wlen);
/* Whether the textual address addr (as inet_ntop writes it) is in a. */
bool acl_allows(const struct acl *a, const char *addr);

#endif
