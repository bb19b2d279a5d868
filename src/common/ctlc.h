/*
 * ctlc.h - the client side of a line-oriented Unix stream socket, such as
 * eidastatsd's control socket: `eidastats status` and the tests' ctlsend
 * both speak through it.
 *
 * Every wait has a deadline (timeout_ms without a byte) and every answer a
 * size limit (CTLC_MAX_ANSWER).  Errors are -errno (-ETIMEDOUT,
 * -ECONNRESET, ...) or ES_ELIMIT.
 *
 * Ownership: answers are malloc()ed; the caller frees them.  No state: any
 * thread.
 */
#ifndef ES_CTLC_H
#define ES_CTLC_H

#include <stddef.h>

#define CTLC_MAX_ANSWER (8u << 20)

/* Connects to the socket at path: a descriptor (close-on-exec) or -errno. */
int ctlc_connect(const char *path);
/* Sends all len bytes (no SIGPIPE): 0 or -errno (-EPIPE once the peer has closed). */
int ctlc_send(int fd, const void *buf, size_t len);
/*
 * Reads what the peer sends until it closes, or, with line set, until a
 * newline has arrived.  *out (NUL-terminated) and *len receive what arrived
 * in every case, even on error: the caller frees *out.  0, -ETIMEDOUT after
 * timeout_ms without a byte, ES_ELIMIT beyond CTLC_MAX_ANSWER, or -errno.
 */
int ctlc_read(int fd, int timeout_ms, int line, char **out, size_t *len);
/*
 * One exchange: connects, sends cmd (one line, its newline included), reads
 * one answer line and returns it without its newline in *answer (caller
 * frees).  -ECONNRESET when the peer closes without a word.
 */
int ctlc_ask(const char *path, const char *cmd, int timeout_ms, char **answer);

#endif
