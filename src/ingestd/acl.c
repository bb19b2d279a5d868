#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"

#include "acl.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Reads one address into e (family and bytes); 0 or -1. */
static int read_addr(const char *s, struct acl_entry *e)
{
	memset(e->addr, 0, sizeof e->addr);
	if (inet_pton(AF_INET, s, e->addr) == 1) {
		e->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, e->addr) != 1)
		return -1;
	e->family = AF_INET6;
	if (memcmp(e->addr, v4mapped, sizeof v4mapped) == 0) {
		memmove(e->addr, e->addr + 12, 4);
		memset(e->addr + 4, 0, 12);
		e->family = AF_INET;
	}
	return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xFF << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int acl_parse(struct acl *a, const char *text, char *why, size_t wlen)
{
	const char *p = text;

	memset(a, 0, sizeof *a);
	for (;;) {
		char item[INET6_ADDRSTRLEN + 8], *slash;
		size_t l;
		struct acl_entry e;

		p += strspn(p, ", \t");
		if (!*p)
			return 0;
		l = strcspn(p, ", \t");
		if (l >= sizeof item) {
			snprintf(why, wlen, "'%.*s': not an address or ADDR/BITS", (int)(l > 60 ? 60 : l), p);
			return ES_ECONFIG;
		}
		memcpy(item, p, l);
		item[l] = '\0';
		p += l;
		slash = strchr(item, '/');
		if (slash)
			*slash = '\0';
		if (read_addr(item, &e) < 0)
			goto bad;
		e.bits = e.family == AF_INET ? 32 : 128;
		if (slash) {
			char *end;
			unsigned long b = strtoul(slash + 1, &end, 10);
			if (slash[1] < '0' || slash[1] > '9' || *end || b > e.bits)
				goto bad;
			e.bits = (unsigned)b;
		}
		if (a->n == ACL_MAX) {
			snprintf(why, wlen, "more than %d entries", ACL_MAX);
			return ES_ECONFIG;
		}
		a->e[a->n++] = e;
		continue;
bad:
		if (slash)
			*slash = '/';
		snprintf(why, wlen, "'%s': not an address or ADDR/BITS", item);
		return ES_ECONFIG;
	}
}

bool acl_allows(const struct acl *a, const char *addr)
{
	struct acl_entry c;

	if (!addr || read_addr(addr, &c) < 0)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].family == c.family && prefix_equal(a->e[i].addr, c.addr, a->e[i].bits))
			return true;
	return false;
}
