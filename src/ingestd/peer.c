#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#include "peer.h"

/* An address as 16 bytes, IPv4 mapped into IPv6 so both compare alike. */
static int addr_parse(const char *text, size_t len, unsigned char out[16], unsigned *bits)
{
	char buf[PEER_ADDR_LEN];
	unsigned char v4[4];

	if (len == 0 || len >= sizeof buf)
		return ES_EFORMAT;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		*bits = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out) == 1) {
		*bits = 128;
		return 0;
	}
	return ES_EFORMAT;
}

static bool net_has(const struct peer_net *n, const unsigned char a[16])
{
	unsigned full = n->bits / 8, rest = n->bits % 8;

	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (n->addr[full] & mask) == (a[full] & mask);
}

int peer_list_parse(struct peer_list *l, const char *text, char *why, size_t wlen)
{
	const char *p = text;

	/* Whole, so that two lists of the same text compare equal byte for byte. */
	memset(l, 0, sizeof *l);
	for (;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			return 0;
		size_t len = strcspn(p, ", \t");
		const char *slash = memchr(p, '/', len);
		size_t alen = slash ? (size_t)(slash - p) : len;
		struct peer_net n;
		unsigned max;

		if (l->n == PEER_MAX_NETS) {
			snprintf(why, wlen, "more than %d addresses or networks", PEER_MAX_NETS);
			return ES_ELIMIT;
		}
		if (addr_parse(p, alen, n.addr, &max) < 0)
			goto bad;
		n.bits = 128;
		if (slash) {
			char *end;
			unsigned long b;
			if (slash + 1 >= p + len || slash[1] < '0' || slash[1] > '9')
				goto bad;
			b = strtoul(slash + 1, &end, 10);
			if (end != p + len || b > max)
				goto bad;
			n.bits = 128 - max + (unsigned)b;
		}
		/* Bits past the prefix are cleared so that 10.1.2.3/8 means 10.0.0.0/8. */
		for (unsigned i = n.bits; i < 128; i++)
			n.addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
		l->net[l->n++] = n;
		p += len;
		continue;
bad:
		snprintf(why, wlen, "'%.*s' is not an address or CIDR", (int)(len > 64 ? 64 : len), p);
		return ES_EFORMAT;
	}
}

static bool has_bytes(const struct peer_list *l, const unsigned char a[16])
{
	for (size_t i = 0; i < l->n; i++)
		if (net_has(&l->net[i], a))
			return true;
	return false;
}

bool peer_list_has(const struct peer_list *l, const char *addr)
{
	unsigned char a[16];
	unsigned bits;

	return addr && addr_parse(addr, strlen(addr), a, &bits) == 0 && has_bytes(l, a);
}

/* The previous comma-separated item of s[0..*end), trimmed; false at the start. */
static bool prev_item(const char *s, size_t *end, const char **item, size_t *len)
{
	size_t e = *end, b;

	if (e == 0)
		return false;
	b = e;
	while (b > 0 && s[b - 1] != ',')
		b--;
	*end = b > 0 ? b - 1 : 0;
	while (b < e && (s[b] == ' ' || s[b] == '\t'))
		b++;
	while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	*item = s + b;
	*len = e - b;
	return true;
}

bool peer_client(const struct peer_list *l, const char *peer, const char *const *xff,
                 size_t nxff, char *out, size_t cap)
{
	char hop[PEER_ADDR_LEN];

	snprintf(out, cap, "%s", peer);
	if (l->n == 0 || nxff == 0 || !peer_list_has(l, peer))
		return false;
	snprintf(hop, sizeof hop, "%s", peer);
	for (size_t h = nxff; h-- > 0;) {
		const char *item;
		size_t end = strlen(xff[h]), len;
		while (prev_item(xff[h], &end, &item, &len)) {
			unsigned char a[16];
			unsigned bits;
			if (addr_parse(item, len, a, &bits) < 0)
				goto done;
			snprintf(hop, sizeof hop, "%.*s", (int)len, item);
			if (!has_bytes(l, a))
				goto done;
		}
	}
done:
	snprintf(out, cap, "%s", hop);
	return strcmp(hop, peer) != 0;
}
