/*
 * faultsrv.c - a scripted HTTP server for the daemon's fault-injection tests.
 *
 *   faultsrv --port-file FILE --script FILE [--upstream URL] [--record DIR] [--log FILE]
 *
 * Listens on 127.0.0.1 (an ephemeral port, written to --port-file) and
 * answers each POST by the script: a text file of actions, one per line,
 * used in order, one per request; the last line stays in force.  The file is
 * read again whenever it changes (its mtime or size), and the count starts
 * over, so a test steers the server by rewriting it.  Actions:
 *   pass             forward to --upstream (the real eidastats-ingestd) and
 *                    relay its status and body; without --upstream answer
 *                    200 "stored" and keep the body in --record DIR
 *   status CODE [T]  answer CODE with text T, forward nothing
 *   after CODE       forward, then answer CODE whatever upstream said (the
 *                    upstream service that stored the payload and failed)
 *   reset            close the connection without an answer
 *   slow SECONDS     wait, then act as pass
 *   retry-after S    answer 503 with "Retry-After: S"
 * Every request is logged as one line in --log: "N ACTION UPSTREAM_STATUS
 * ANSWER_STATUS BODY_BYTES".  SIGTERM/SIGINT stop it.
 *
 * A test tool: it is not installed.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_BODY (256u << 20)

struct server {
	const char *script, *upstream, *record, *logpath;
	pthread_mutex_t lock;
	char **lines;
	size_t nlines;
	long long script_mtime, script_size;
	unsigned long count;      /* Requests since the script was (re)read. */
	unsigned long total;      /* Requests since start. */
};

struct conn {
	char *body;
	size_t len, cap;
	int too_big;
};

/* The action for this request; the script is re-read when it changed. */
static void next_action(struct server *s, char *out, size_t outlen, unsigned long *n)
{
	struct stat st;

	pthread_mutex_lock(&s->lock);
	if (stat(s->script, &st) == 0 &&
	    ((long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != s->script_mtime ||
	     (long long)st.st_size != s->script_size)) {
		FILE *f = fopen(s->script, "r");
		char line[512];
		for (size_t i = 0; i < s->nlines; i++)
			free(s->lines[i]);
		free(s->lines);
		s->lines = NULL;
		s->nlines = 0;
		while (f && fgets(line, sizeof line, f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (!line[0] || line[0] == '#')
				continue;
			s->lines = realloc(s->lines, (s->nlines + 1) * sizeof *s->lines);
			s->lines[s->nlines++] = strdup(line);
		}
		if (f)
			fclose(f);
		s->script_mtime = (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		s->script_size = (long long)st.st_size;
		s->count = 0;
	}
	if (s->nlines == 0)
		snprintf(out, outlen, "pass");
	else
		snprintf(out, outlen, "%s", s->lines[s->count < s->nlines ? s->count : s->nlines - 1]);
	s->count++;
	*n = ++s->total;
	pthread_mutex_unlock(&s->lock);
}

static void log_line(struct server *s, unsigned long n, const char *action, long up, int code,
                     size_t bytes)
{
	FILE *f;

	if (!s->logpath)
		return;
	pthread_mutex_lock(&s->lock);
	f = fopen(s->logpath, "a");
	if (f) {
		fprintf(f, "%lu %s %ld %d %zu\n", n, action, up, code, bytes);
		fclose(f);
	}
	pthread_mutex_unlock(&s->lock);
}

struct fwd {
	char buf[65536];
	size_t len;
};

static size_t fwd_write(char *data, size_t size, size_t n, void *userp)
{
	struct fwd *f = userp;
	size_t len = size * n, room = sizeof f->buf - 1 - f->len;
	memcpy(f->buf + f->len, data, len < room ? len : room);
	f->len += len < room ? len : room;
	f->buf[f->len] = '\0';
	return size * n;
}

/* Forwards the request to upstream; returns its status (0 on transport failure). */
static long forward(struct server *s, struct MHD_Connection *c, const struct conn *cn,
                    unsigned long n, struct fwd *out)
{
	static const char *const pass_headers[] = {
		"Authentication", "Authorization", "Content-Type", "Content-Encoding"
	};
	struct curl_slist *h = NULL;
	CURL *e;
	long code = 0;

	if (!s->upstream) {
		if (s->record) {
			char path[4096];
			FILE *f;
			snprintf(path, sizeof path, "%s/%06lu.body", s->record, n);
			f = fopen(path, "w");
			if (f) {
				fwrite(cn->body, 1, cn->len, f);
				fclose(f);
			}
		}
		snprintf(out->buf, sizeof out->buf, "stored");
		out->len = strlen(out->buf);
		return 200;
	}
	e = curl_easy_init();
	if (!e)
		return 0;
	for (size_t i = 0; i < sizeof pass_headers / sizeof pass_headers[0]; i++) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, pass_headers[i]);
		if (v) {
			char line[8192];
			snprintf(line, sizeof line, "%s: %s", pass_headers[i], v);
			h = curl_slist_append(h, line);
		}
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, s->upstream);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, cn->body ? cn->body : "");
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)cn->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fwd_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 120L);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	return code;
}

static enum MHD_Result answer(struct MHD_Connection *c, int code, const char *text,
                              const char *retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                                         MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	rc = MHD_queue_response(c, (unsigned)code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
	struct server *s = cls;
	struct conn *cn = *con_cls;
	char action[512], arg[512] = "";
	unsigned long n;
	struct fwd out;
	long up = -1;
	int code;

	(void)url;
	(void)version;
	if (!cn) {
		cn = calloc(1, sizeof *cn);
		if (!cn)
			return MHD_NO;
		*con_cls = cn;
		return MHD_YES;
	}
	if (*size) {
		if (cn->len + *size > MAX_BODY) {
			cn->too_big = 1;
		} else {
			if (cn->len + *size > cn->cap) {
				cn->cap = (cn->len + *size) * 2;
				cn->body = realloc(cn->body, cn->cap);
				if (!cn->body)
					return MHD_NO;
			}
			memcpy(cn->body + cn->len, data, *size);
			cn->len += *size;
		}
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0)
		return answer(c, 405, "POST only", NULL);
	if (cn->too_big)
		return answer(c, 413, "too big", NULL);

	next_action(s, action, sizeof action, &n);
	char *sp = strchr(action, ' ');
	if (sp) {
		snprintf(arg, sizeof arg, "%s", sp + 1);
		*sp = '\0';
	}
	memset(&out, 0, sizeof out);
	if (strcmp(action, "reset") == 0) {
		log_line(s, n, action, -1, 0, cn->len);
		return MHD_NO;
	}
	if (strcmp(action, "status") == 0) {
		char *text = strchr(arg, ' ');
		code = atoi(arg);
		log_line(s, n, action, -1, code, cn->len);
		return answer(c, code, text ? text + 1 : "scripted answer", NULL);
	}
	if (strcmp(action, "retry-after") == 0) {
		log_line(s, n, action, -1, 503, cn->len);
		return answer(c, 503, "busy, come back later", arg);
	}
	if (strcmp(action, "slow") == 0)
		usleep((useconds_t)(atof(arg) * 1e6));
	up = forward(s, c, cn, n, &out);
	if (strcmp(action, "after") == 0) {
		code = atoi(arg);
		log_line(s, n, action, up, code, cn->len);
		return answer(c, code, "scripted failure after upstream answered", NULL);
	}
	if (up == 0) {
		log_line(s, n, action, up, 502, cn->len);
		return answer(c, 502, "upstream unreachable", NULL);
	}
	log_line(s, n, action, up, (int)up, cn->len);
	return answer(c, (int)up, out.buf, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (cn) {
		free(cn->body);
		free(cn);
	}
	*con_cls = NULL;
}

int main(int argc, char **argv)
{
	struct server s;
	const char *portfile = NULL;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig;

	memset(&s, 0, sizeof s);
	pthread_mutex_init(&s.lock, NULL);
	s.script_mtime = -1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port-file") == 0)
			portfile = argv[i + 1];
		else if (strcmp(argv[i], "--script") == 0)
			s.script = argv[i + 1];
		else if (strcmp(argv[i], "--upstream") == 0)
			s.upstream = argv[i + 1];
		else if (strcmp(argv[i], "--record") == 0)
			s.record = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			s.logpath = argv[i + 1];
		else {
			fprintf(stderr, "faultsrv: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (!portfile || !s.script) {
		fprintf(stderr, "usage: faultsrv --port-file FILE --script FILE [--upstream URL] "
		                "[--record DIR] [--log FILE]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
	                     NULL, NULL, handler, &s, MHD_OPTION_SOCK_ADDR, &sa,
	                     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "faultsrv: cannot start the HTTP server\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	{
		char tmp[4200];
		FILE *f;
		snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", (unsigned)info->port) < 0 || fclose(f) != 0 ||
		    rename(tmp, portfile) != 0) {
			perror("faultsrv: port file");
			MHD_stop_daemon(d);
			return 1;
		}
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	for (size_t i = 0; i < s.nlines; i++)
		free(s.lines[i]);
	free(s.lines);
	curl_global_cleanup();
	return 0;
}
