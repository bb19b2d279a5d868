#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "ctlc.h"
#include "error.h"
#include "mem.h"
#include "push.h"
#include "watch.h"

struct client {
	uv_pipe_t pipe;
	uv_timer_t idle;         /* Drops the client after CTL_IDLE_MS without a byte. */
	int handles;             /* Handles still open; freed when 0. */
	struct ctl *ctl;
	struct client *next;
	uid_t uid;
	pid_t pid;
	int cred_ok;
	char line[CTL_MAX_LINE + 1];
	size_t len;
	int closing;
};

struct ctl {
	esd_t *d;
	uv_pipe_t server;
	char *path;
	struct client *clients;
	int nclients;
	int closing;
	int bound;         /* The socket file is ours to remove. */
};

static void client_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct ctl *ctl = c->ctl;

	if (--c->handles > 0)
		return;
	for (struct client **pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl->nclients--;
	free(c);
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_close((uv_handle_t *)&c->idle, client_closed);
	uv_close((uv_handle_t *)&c->pipe, client_closed);
}

static void idle_cb(uv_timer_t *t)
{
	client_close(t->data);
}

struct wreq {
	uv_write_t req;
	char *buf;
};

static void write_done(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	(void)status;
	free(w->buf);
	free(w);
}

/* Sends one JSON object as one line; consumes obj. */
static void reply(struct client *c, cJSON *obj)
{
	char *text = cJSON_PrintUnformatted(obj);
	size_t n;
	struct wreq *w;
	uv_buf_t b;

	cJSON_Delete(obj);
	if (!text || c->closing) {
		free(text);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > CTL_MAX_QUEUED) {
		/* It does not read its answers: drop it rather than grow. */
		free(text);
		client_close(c);
		return;
	}
	n = strlen(text);
	w = es_malloc(sizeof *w);
	w->buf = es_realloc(text, n + 2);
	w->buf[n] = '\n';
	w->buf[n + 1] = '\0';
	b = uv_buf_init(w->buf, (unsigned)(n + 1));
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, write_done) < 0) {
		free(w->buf);
		free(w);
		client_close(c);
	}
}

static cJSON *error_obj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *error_obj(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cJSON_AddBoolToObject(o, "ok", 0);
	cJSON_AddStringToObject(o, "error", msg);
	return o;
}

static cJSON *ok_obj(const char *command)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 1);
	cJSON_AddStringToObject(o, "command", command);
	return o;
}

cJSON *ctl_status(esd_t *d)
{
	cJSON *o = cJSON_CreateObject();
	spool_stats_t st;
	int64_t now = esd_now();

	cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddNumberToObject(o, "uptime_s", (double)(now - d->started));
	watch_status_json(d, o);

	spool_get_stats(d->spool, &st);
	cJSON *sp = cJSON_AddObjectToObject(o, "spool");
	cJSON_AddNumberToObject(sp, "pending", (double)st.pending);
	cJSON_AddNumberToObject(sp, "bytes", (double)st.bytes);
	cJSON_AddNumberToObject(sp, "oldest_age_s",
	                        st.oldest_created ? (double)(now - st.oldest_created) : 0);
	cJSON_AddNumberToObject(sp, "rejected", (double)st.rejected);
	cJSON_AddNumberToObject(sp, "bad", (double)st.bad);
	cJSON_AddNumberToObject(sp, "max_bytes", (double)d->cfg.spool_max_bytes);
	cJSON_AddBoolToObject(sp, "full", d->spool_full);

	push_status_json(d, o);
	if (d->last_error.at) {
		cJSON *le = cJSON_AddObjectToObject(o, "last_error");
		cJSON_AddNumberToObject(le, "at", (double)d->last_error.at);
		cJSON_AddNumberToObject(le, "age_s", (double)(now - d->last_error.at));
		cJSON_AddStringToObject(le, "message", d->last_error.text);
	} else {
		cJSON_AddNullToObject(o, "last_error");
	}
	cJSON *ln = cJSON_AddObjectToObject(o, "lines");
	cJSON_AddNumberToObject(ln, "read", (double)d->lines_read);
	cJSON_AddNumberToObject(ln, "malformed", (double)d->lines_malformed);
	cJSON_AddNumberToObject(o, "refused_traces", (double)d->refused_traces);
	cJSON_AddNumberToObject(o, "files_counted", (double)d->files_counted);
	return o;
}

/* A printable, bounded echo of what the client sent, for error messages. */
static void sanitize(const char *in, size_t len, char *out, size_t outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 5 < outlen; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'') {
			out[k++] = (char)ch;
		} else {
			k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", ch);
		}
		if (i == 40) {
			k += (size_t)snprintf(out + k, outlen - k, "...");
			break;
		}
	}
	out[k < outlen ? k : outlen - 1] = '\0';
}

enum ctl_cmd ctl_parse(char *line, size_t len, char *err, size_t errlen)
{
	static const char *const names[] = { "status", "help", "rescan", "retry", "reload" };
	char shown[256];

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len == 0)
		return CTL_CMD_EMPTY;
	if (strlen(line) != len) {
		snprintf(err, errlen, "a command is text without NUL bytes");
		return CTL_CMD_BAD;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(line, names[i]) == 0)
			return (enum ctl_cmd)(CTL_CMD_STATUS + i);
	sanitize(line, len, shown, sizeof shown);
	snprintf(err, errlen, "unknown command '%s'; commands: status, rescan, retry, reload, help",
	         shown);
	return CTL_CMD_BAD;
}

static void command(struct client *c, char *line, size_t len)
{
	esd_t *d = c->ctl->d;
	char msg[512];
	int may_change = c->cred_ok && (c->uid == 0 || c->uid == geteuid());
	enum ctl_cmd cmd = ctl_parse(line, len, msg, sizeof msg);
	const char *name = cmd == CTL_CMD_RESCAN ? "rescan" : cmd == CTL_CMD_RETRY ? "retry" : "reload";

	switch (cmd) {
	case CTL_CMD_EMPTY:
		return;
	case CTL_CMD_BAD:
		reply(c, error_obj("%s", msg));
		return;
	case CTL_CMD_STATUS:
		reply(c, ctl_status(d));
		return;
	case CTL_CMD_HELP: {
		cJSON *o = ok_obj("help");
		const char *cmds[] = { "status", "rescan", "retry", "reload", "help" };
		cJSON_AddItemToObject(o, "commands", cJSON_CreateStringArray(cmds, 5));
		reply(c, o);
		return;
	}
	default:
		break;
	}
	if (!may_change) {
		sdlog(&d->log, LOG_WARNING, NULL, 0, "control: '%s' refused to uid %ld (pid %ld)", name,
		      (long)c->uid, (long)c->pid);
		reply(c, error_obj("'%s' is allowed only to root and the daemon's user (uid %ld)", name,
		                   (long)geteuid()));
		return;
	}
	if (cmd == CTL_CMD_RESCAN) {
		sdlog(&d->log, LOG_INFO, NULL, 0, "control: rescan");
		watch_rescan(d, 1);
		reply(c, ok_obj("rescan"));
	} else if (cmd == CTL_CMD_RETRY) {
		sdlog(&d->log, LOG_INFO, NULL, 0, "control: retry");
		push_retry_now(d);
		reply(c, ok_obj("retry"));
	} else {
		char err[1024];
		int rc = esd_reload(d, err, sizeof err);
		cJSON *o;
		if (rc < 0) {
			o = error_obj("%s", err);
		} else {
			o = ok_obj("reload");
			if (err[0])
				cJSON_AddStringToObject(o, "note", err);
		}
		reply(c, o);
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct client *c = h->data;
	(void)suggested;
	/* Read straight into the line buffer: the line limit bounds memory. */
	buf->base = c->line + c->len;
	buf->len = CTL_MAX_LINE - c->len;
	if (buf->len == 0) {
		/* Cannot happen: a full buffer is handled in read_cb. */
		buf->base = NULL;
	}
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
	struct client *c = req->data;
	(void)status;
	free(req);
	client_close(c);
}

/* Closes after the answers queued so far are written. */
static void client_finish(struct client *c)
{
	uv_shutdown_t *sd = es_malloc(sizeof *sd);

	uv_read_stop((uv_stream_t *)&c->pipe);
	sd->data = c;
	if (uv_shutdown(sd, (uv_stream_t *)&c->pipe, shutdown_done) < 0) {
		free(sd);
		client_close(c);
	}
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = s->data;
	char *nl;

	(void)buf;
	if (nread == UV_EOF && !c->closing) {
		/* A last command without its newline still gets its answer. */
		if (c->len)
			command(c, c->line, c->len);
		c->len = 0;
		client_finish(c);
		return;
	}
	if (nread < 0) {
		client_close(c);
		return;
	}
	if (nread > 0 && !c->closing)
		uv_timer_again(&c->idle);
	c->len += (size_t)nread;
	c->line[c->len] = '\0';
	while (!c->closing && (nl = memchr(c->line, '\n', c->len)) != NULL) {
		size_t n = (size_t)(nl - c->line);
		*nl = '\0';
		command(c, c->line, n);
		memmove(c->line, nl + 1, c->len - n - 1);
		c->len -= n + 1;
		c->line[c->len] = '\0';
	}
	if (!c->closing && c->len == CTL_MAX_LINE) {
		reply(c, error_obj("line longer than %d bytes; closing", CTL_MAX_LINE));
		c->len = 0;
		client_finish(c);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ctl *ctl = server->data;
	struct client *c;
	struct ucred cred;
	socklen_t cl = sizeof cred;
	uv_os_fd_t fd;

	if (status < 0)
		return;
	c = es_calloc(1, sizeof *c);
	c->ctl = ctl;
	uv_pipe_init(ctl->d->loop, &c->pipe, 0);
	uv_timer_init(ctl->d->loop, &c->idle);
	c->pipe.data = c->idle.data = c;
	c->handles = 2;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
		client_close(c);
		return;
	}
	if (ctl->nclients > CTL_MAX_CLIENTS) {
		reply(c, error_obj("too many control connections"));
		client_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
		c->cred_ok = 1;
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
	uv_timer_start(&c->idle, idle_cb, CTL_IDLE_MS, CTL_IDLE_MS);
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

/* A socket file nobody listens on is a leftover of a dead daemon. */
static int socket_in_use(const char *path)
{
	int fd = ctlc_connect(path);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	/* A name too long is an error; a refused connection means nobody listens. */
	return fd == -ENAMETOOLONG ? fd : 0;
}

int ctl_init(esd_t *d)
{
	struct ctl *ctl = es_calloc(1, sizeof *ctl);
	const char *path = d->cfg.control_socket;
	struct stat st;
	mode_t old;
	int rc;

	ctl->d = d;
	d->ctl = ctl;
	ctl->path = es_strdup(path);
	uv_pipe_init(d->loop, &ctl->server, 0);
	ctl->server.data = ctl;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			sdlog(&d->log, LOG_ERR, NULL, 0, "control_socket %s exists and is not a socket", path);
			return -EEXIST;
		}
		rc = socket_in_use(path);
		if (rc == 1) {
			sdlog(&d->log, LOG_ERR, NULL, 0,
			      "another eidastatsd answers on %s; not starting a second one", path);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	/* The socket is born 0660: no window in which others could connect. */
	old = umask(0117);
	rc = uv_pipe_bind(&ctl->server, path);
	umask(old);
	if (rc < 0) {
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot bind the control socket %s: %s", path,
		      uv_strerror(rc));
		return rc;
	}
	ctl->bound = 1;
	chmod(path, 0660);
	rc = uv_listen((uv_stream_t *)&ctl->server, 16, on_connection);
	if (rc < 0) {
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot listen on %s: %s", path, uv_strerror(rc));
		unlink(path);
		return rc;
	}
	return 0;
}

void ctl_close(esd_t *d)
{
	struct ctl *ctl = d->ctl;

	if (!ctl || ctl->closing)
		return;
	ctl->closing = 1;
	for (struct client *c = ctl->clients; c; c = c->next)
		client_close(c);
	if (!uv_is_closing((uv_handle_t *)&ctl->server))
		uv_close((uv_handle_t *)&ctl->server, NULL);
	if (ctl->bound)
		unlink(ctl->path);
	ctl->bound = 0;
}

void ctl_free(esd_t *d)
{
	struct ctl *ctl = d->ctl;
	if (!ctl)
		return;
	free(ctl->path);
	free(ctl);
	d->ctl = NULL;
}
