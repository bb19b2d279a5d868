#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "error.h"
#include "hex.h"

#include "rpath.h"

#define RPATH_DEPTH 3   /* PERIOD/nodes/FILE */

int rpath_decode(const char *raw, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)raw[i];
		if (c == '%') {
			int hi = i + 2 < len ? hex_digit_any((unsigned char)raw[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit_any((unsigned char)raw[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return ES_EFORMAT;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7F || c == '\\')
			return ES_EFORMAT;
		if (o + 1 >= cap)
			return ES_ELIMIT;
		out[o++] = (char)c;
	}
	if (o >= cap)
		return ES_ELIMIT;
	out[o] = '\0';
	return 0;
}

/* YYYY or YYYY-MM (month 01..12). */
static bool is_period(const char *s, size_t n)
{
	for (size_t i = 0; i < 4; i++)
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
	if (n == 4)
		return true;
	return n == 7 && s[4] == '-' && ((s[5] == '0' && s[6] >= '1' && s[6] <= '9') ||
	                                 (s[5] == '1' && s[6] >= '0' && s[6] <= '2'));
}

/* A component that may name something: not empty, not hidden, not a temporary file. */
static bool plain_name(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || n >= RPATH_NAME_MAX)
		return false;
	for (size_t i = 0; i + 5 <= n; i++)
		if (memcmp(s + i, ".tmp.", 5) == 0)
			return false;
	return true;
}

enum rpath_kind rpath_map(const char *sub, struct rpath *out)
{
	const char *comp[RPATH_DEPTH + 1];
	size_t clen[RPATH_DEPTH + 1], n = 0, len = strlen(sub);
	const char *p;
	bool dir;

	memset(out, 0, sizeof *out);
	if (len == 0) {
		snprintf(out->location, sizeof out->location, "/");
		return out->kind = RPATH_REDIRECT;
	}
	if (sub[0] != '/' || len + sizeof "index.html" >= sizeof out->rel)
		return RPATH_NOTFOUND;
	dir = sub[len - 1] == '/';
	/* Split after the leading '/'; every component must be a plain name. */
	for (p = sub + 1; *p;) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		if (n == RPATH_DEPTH || !plain_name(p, l))
			return RPATH_NOTFOUND;
		comp[n] = p;
		clen[n++] = l;
		p += l;
		if (*p == '/')
			p++;
	}
	if (n == 0) {   /* "/" */
		snprintf(out->rel, sizeof out->rel, "index.html");
		out->file = out->rel;
		return out->kind = RPATH_PUBLIC;
	}
	if (!is_period(comp[0], clen[0])) {
		/* At the top only files (DIR/index.html). */
		if (n != 1 || dir)
			return RPATH_NOTFOUND;
		memcpy(out->rel, comp[0], clen[0]);
		out->file = out->rel;
		return out->kind = RPATH_PUBLIC;
	}
	if (n == 1 && !dir) {
		snprintf(out->location, sizeof out->location, "%s/", sub);
		return out->kind = RPATH_REDIRECT;
	}
	if (n == 3 && !(clen[1] == 5 && memcmp(comp[1], "nodes", 5) == 0))
		return RPATH_NOTFOUND;   /* networks/ and anything else: never. */
	if (n == 2 && dir)
		return RPATH_NOTFOUND;   /* PERIOD/x/: no other directory. */
	memcpy(out->rel, sub + 1, len - 1);
	if (dir)
		strcat(out->rel, "index.html");
	out->file = strrchr(out->rel, '/') + 1;
	return out->kind = n == 3 ? RPATH_NODE : RPATH_PUBLIC;
}

bool rpath_node_owns(const char *file, const char *fsname)
{
	size_t n = strlen(fsname), fl = strlen(file);

	if (n == 0 || strncmp(file, fsname, n) != 0)
		return false;
	if (file[n] == '.')
		return file[n + 1] != '\0' && !strchr(file + n + 1, '.');
	return file[n] == '-' && fl > n + 1 + 4 && strcmp(file + fl - 4, ".csv") == 0 &&
	       !memchr(file + n + 1, '.', fl - n - 1 - 4);
}

const char *rpath_ctype(const char *file)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=UTF-8" },
		{ ".json", "application/json" },
		{ ".csv", "text/csv; charset=UTF-8" },
		{ ".png", "image/png" },
		{ ".svg", "image/svg+xml" },
		{ ".txt", "text/plain; charset=UTF-8" },
	};
	const char *dot = strrchr(file, '.');

	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

int rpath_open(const char *root, const char *rel, int *fd, struct stat *st)
{
	char name[RPATH_NAME_MAX];
	int dfd, next, rc;

	*fd = -1;
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (;;) {
		const char *slash = strchr(rel, '/');
		size_t l = slash ? (size_t)(slash - rel) : strlen(rel);
		if (l == 0 || l >= sizeof name) {
			close(dfd);
			return -ENOENT;
		}
		memcpy(name, rel, l);
		name[l] = '\0';
		/* O_NONBLOCK: a FIFO put there must not block the worker; it is refused below. */
		next = openat(dfd, name, (slash ? O_DIRECTORY : O_NONBLOCK | O_NOCTTY) | O_RDONLY |
		              O_NOFOLLOW | O_CLOEXEC);
		rc = next < 0 ? -errno : 0;
		close(dfd);
		if (rc < 0)
			return rc == -ELOOP || rc == -ENOTDIR || rc == -EISDIR || rc == -EACCES ? -ENOENT : rc;
		if (!slash)
			break;
		dfd = next;
		rel = slash + 1;
	}
	if (fstat(next, st) < 0 || !S_ISREG(st->st_mode)) {
		close(next);
		return -ENOENT;
	}
	*fd = next;
	return 0;
}
