/*
 * ctlsend.c - sends raw bytes to a Unix stream socket and prints what comes
 * back: the control-socket tests use it to send garbage, long lines and
 * several commands at once.
 *
 *   ctlsend SOCKET [TIMEOUT_S] < bytes
 *
 * Sends all of stdin, shuts the write side, then copies every answer to
 * stdout until the peer closes or TIMEOUT_S (default 10) passes.  Exit 0
 * when the peer closed, 3 on timeout, 2 when it cannot connect.
 * A test tool: it is not installed.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	int fd, timeout_ms;
	ssize_t n;

	if (argc < 2 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: ctlsend SOCKET [TIMEOUT_S] < bytes\n");
		return 2;
	}
	timeout_ms = argc > 2 ? atoi(argv[2]) * 1000 : 10000;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "ctlsend: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0) {
				/* The daemon may close on a too-long line: read what it said. */
				goto drain;
			}
			off += w;
		}
	}
	shutdown(fd, SHUT_WR);
drain:
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);
		if (r == 0) {
			fprintf(stderr, "ctlsend: timeout\n");
			return 3;
		}
		if (r < 0)
			return 2;
		n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return 0;
}
