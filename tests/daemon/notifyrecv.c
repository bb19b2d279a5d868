/*
 * notifyrecv.c - plays the service manager's side of sd_notify for the
 * tests: binds a Unix datagram socket and appends every message it receives
 * to a file, one line per message (newlines inside a message become " | ").
 *
 *   notifyrecv SOCKET OUTFILE
 *
 * Runs until SIGTERM/SIGINT.  A test tool: it is not installed.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4097];
	FILE *out;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: notifyrecv SOCKET OUTFILE\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "notifyrecv: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	out = fopen(argv[2], "a");
	if (!out) {
		fprintf(stderr, "notifyrecv: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		buf[n] = '\0';
		for (char *p = buf; *p; p++) {
			if (*p == '\n') {
				if (p[1])
					fputs(" | ", out);
			} else {
				fputc(*p, out);
			}
		}
		fputc('\n', out);
		fflush(out);
	}
	return 0;
}
