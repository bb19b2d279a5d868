#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fsx.h"
#include "hex.h"

int fsx_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fsx_fsync_dir(const char *dir)
{
	int rc = 0, dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

/* Fills the open temporary file fd (dirfd/tmp), syncs it and renames it
 * to dirfd/name, then syncs the directory; closes fd, removes tmp on error. */
static int fsx_finish(int dirfd, int fd, const char *tmp, const char *name, mode_t mode,
                      fsx_fill_fn fill, void *ctx)
{
	int rc = 0;

	if (fchmod(fd, mode) < 0)
		rc = -errno;
	if (!rc)
		rc = fill(fd, ctx);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	return fsync(dirfd) < 0 ? -errno : 0;
}

int fsx_replace(const char *path, mode_t mode, fsx_fill_fn fill, void *ctx)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, dfd, rc;

	if (!*(slash ? slash + 1 : path))
		return -EISDIR;
	if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		snprintf(dir, sizeof dir, ".");

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	/* Both names relative to the directory: the part after the last slash. */
	rc = fsx_finish(dfd, fd, slash ? tmp + (slash - path) + 1 : tmp, slash ? slash + 1 : path,
	                mode, fill, ctx);
	close(dfd);
	return rc;
}

int fsx_replace_at(int dirfd, const char *tmp, const char *name, mode_t mode,
                   fsx_fill_fn fill, void *ctx)
{
	int fd;

	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	return fsx_finish(dirfd, fd, tmp, name, mode, fill, ctx);
}

struct fsx_buf {
	const void *buf;
	size_t len;
};

static int fsx_fill_buf(int fd, void *ctx)
{
	const struct fsx_buf *b = ctx;
	return fsx_write_all(fd, b->buf, b->len);
}

int fsx_replace_buf(const char *path, mode_t mode, const void *buf, size_t len)
{
	struct fsx_buf b = { buf, len };
	return fsx_replace(path, mode, fsx_fill_buf, &b);
}

int fsx_replace_buf_at(int dirfd, const char *tmp, const char *name, mode_t mode,
                       const void *buf, size_t len)
{
	struct fsx_buf b = { buf, len };
	return fsx_replace_at(dirfd, tmp, name, mode, fsx_fill_buf, &b);
}

int fsx_safe_name(const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	int plain = n > 0 && name[0] != '.' && strspn(name,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;

	if (plain) {
		if (n >= cap)
			return ES_ELIMIT;
		memcpy(out, name, n + 1);
		return 0;
	}
	if (1 + 2 * n >= cap)
		return ES_ELIMIT;
	out[0] = '_';
	hex_encode(out + 1, name, n);
	return 0;
}
