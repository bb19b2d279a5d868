/*
 * ctl.h - the control socket of eidastatsd.
 *
 * A Unix stream socket at control_socket (mode 0660; a stale socket left by
 * a dead daemon is replaced, a live one makes start-up fail).  Protocol: one
 * command per line (at most CTL_MAX_LINE bytes), one JSON object per line
 * back, in order:
 *   status  the daemon's state (see ctl_status());
 *   rescan  scan the log directory now, retrying failed files;
 *   retry   deliver now, forgetting the backoff;
 *   reload  read the configuration again (as SIGHUP does);
 *   help    the list of commands.
 * rescan, retry and reload change state: they are refused unless the peer
 * (SO_PEERCRED) is root or the daemon's own user.  Anything else gets
 * {"ok": false, "error": "..."}; a line over the limit gets that answer and
 * the connection is closed.  At most CTL_MAX_CLIENTS connections at once; a
 * client that does not read its answers is dropped when CTL_MAX_QUEUED bytes
 * wait for it, and one that sends nothing for CTL_IDLE_MS is dropped too (so
 * silent clients cannot hold every slot).
 *
 * Ownership: ctl_init() allocates d->ctl; ctl_close() closes the listener
 * and all connections (and removes the socket file); ctl_free() frees.
 */
#ifndef ESD_CTL_H
#define ESD_CTL_H

#include <cjson/cJSON.h>

#include "daemon.h"

#define CTL_MAX_LINE 1024
#define CTL_MAX_CLIENTS 32
#define CTL_MAX_QUEUED (4u << 20)
#define CTL_IDLE_MS 10000

int ctl_init(esd_t *d);
void ctl_close(esd_t *d);
void ctl_free(esd_t *d);

/*
 * The status object (caller deletes it): version, pid, uptime_s, files
 * {done, waiting, failed, running, ignored, ledger}, spool {pending, bytes,
 * oldest_age_s, rejected, bad, max_bytes, full}, last_delivery (or null),
 * last_error (or null), lines {read, malformed}, refused_traces,
 * files_counted, delivery {...}, failures [{file, reason}], waiting_files
 * [{file, state, reason}], attention [text].
 */
cJSON *ctl_status(esd_t *d);

/* What one line of the control socket asks. */
enum ctl_cmd {
	CTL_CMD_EMPTY = 0,  /* Blank line: no answer. */
	CTL_CMD_STATUS, CTL_CMD_HELP, CTL_CMD_RESCAN, CTL_CMD_RETRY, CTL_CMD_RELOAD,
	CTL_CMD_BAD         /* err holds the text of the {"ok": false} answer. */
};

/*
 * Reads one command line: line[0..len) without its newline, NUL at
 * line[len]; blanks (space, tab, CR) around the command are cut in place.
 * A NUL byte inside or an unknown word is CTL_CMD_BAD with err (errlen > 0)
 * the answer's text, the client's bytes shown escaped and cut.  Pure (no
 * daemon state, any thread): the socket's read callback calls it per line.
 */
enum ctl_cmd ctl_parse(char *line, size_t len, char *err, size_t errlen);

#endif
