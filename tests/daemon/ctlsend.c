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
 * A test tool: it is not installed.  The socket work is ctlc's (src/common).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctlc.h"
#include "error.h"

int main(int argc, char **argv)
{
	char buf[65536], *answer;
	size_t len;
	ssize_t n;
	int fd, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: ctlsend SOCKET [TIMEOUT_S] < bytes\n");
		return 2;
	}
	fd = ctlc_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "ctlsend: %s: %s\n", argv[1], es_strerror(fd));
		return 2;
	}
	while (rc == 0 && (n = read(STDIN_FILENO, buf, sizeof buf)) > 0)
		rc = ctlc_send(fd, buf, (size_t)n);
	/* After a failed send the daemon may have closed on a too-long line:
	 * read what it said all the same. */
	if (rc == 0)
		shutdown(fd, SHUT_WR);
	rc = ctlc_read(fd, argc > 2 ? atoi(argv[2]) * 1000 : 10000, 0, &answer, &len);
	fwrite(answer, 1, len, stdout);
	free(answer);
	close(fd);
	if (rc == -ETIMEDOUT) {
		fprintf(stderr, "ctlsend: timeout\n");
		return 3;
	}
	return rc < 0 ? 2 : 0;
}
