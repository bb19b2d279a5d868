#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlc.h"
#include "error.h"
#include "mem.h"

int ctlc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int ctlc_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ctlc_read(int fd, int timeout_ms, int line, char **out, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf = es_malloc(cap);
	int rc = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, timeout_ms);
		ssize_t got;

		if (pr == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			rc = -errno;
			break;
		}
		if (n + 1 == cap) {
			if (cap >= CTLC_MAX_ANSWER) {
				rc = ES_ELIMIT;
				break;
			}
			cap *= 2;
			buf = es_realloc(buf, cap);
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (line && memchr(buf + n - (size_t)got, '\n', (size_t)got))
			break;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return rc;
}

int ctlc_ask(const char *path, const char *cmd, int timeout_ms, char **answer)
{
	char *buf;
	size_t len;
	int fd = ctlc_connect(path), rc;

	if (fd < 0)
		return fd;
	rc = ctlc_send(fd, cmd, strlen(cmd));
	if (rc == 0)
		rc = ctlc_read(fd, timeout_ms, 1, &buf, &len);
	else
		buf = NULL;
	close(fd);
	if (rc == 0 && len == 0)
		rc = -ECONNRESET;
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[strcspn(buf, "\n")] = '\0';
	*answer = buf;
	return 0;
}
