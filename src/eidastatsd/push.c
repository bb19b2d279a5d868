#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "curlx.h"
#include "error.h"
#include "mem.h"
#include "policy.h"
#include "push.h"
#include "watch.h"
#include "work.h"

/* What we remember of one pending payload between attempts. */
struct ptrack {
	uint64_t id;
	unsigned attempts;
	int saw_5xx;
	/* Answered for good (delivered, duplicate, rejected), but the spool
	 * could not be updated: the verdict to apply again, never a resend. */
	int unfinished;              /* enum policy_verdict + 1; 0: none */
	char why[512];
};

struct xfer {
	struct push *p;
	CURL *easy;
	struct curl_slist *hdrs;
	uint64_t id;
	char source[256];
	void *body;
	size_t len;
	int load_err;
	int refinish;                /* Only the spool update of an earlier verdict. */
	char resp[PUSH_MAX_RESPONSE + 1];
	size_t resp_len;
	long retry_after;            /* Seconds, -1 if none. */
	char errbuf[CURL_ERROR_SIZE];
	/* Filled by the finishing step. */
	enum policy_verdict verdict;
	long http;
	int saw_5xx;
	char why[512];
	int fin_err;
};

struct csock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct push *p;
};

struct push {
	esd_t *d;
	CURLM *multi;
	uv_timer_t curl_timer;
	uv_timer_t retry_timer;
	uv_timer_t fix_timer;           /* Retries unfinished spool updates. */
	size_t nunfinished;             /* Tracks with unfinished set. */
	int closing;
	char *url;
	char *auth_hdr1, *auth_hdr2;    /* Hold the token: never logged. */
	int inflight;                   /* Loading, sending or finishing. */
	uint64_t busy[PUSH_PARALLEL];
	struct xfer *sending[PUSH_PARALLEL];   /* Transfers in curl's hands. */
	struct ptrack *track;
	size_t ntrack, captrack;
	/* Backoff. */
	int backoff;                    /* 1 while waiting for retry_timer. */
	int64_t next_attempt;           /* Unix seconds. */
	unsigned failures;              /* Consecutive failed rounds. */
	uint64_t rng;
	/* Pause after 401/403, until reload. */
	int auth_paused;
	char auth_msg[640];
	/* Counters and the last outcome. */
	uint64_t delivered, duplicates, rejected, attempts;
	int64_t last_at;
	uint64_t last_id;
	char last_source[256];
	char last_result[64];
	long last_http;
	char last_failure[512];
	cJSON *attention;               /* Array of strings, at most 100. */
	char *delivery_dir;             /* STATE/delivery: 5xx markers. */
	char *attention_log;            /* STATE/attention.log */
};

static void pump(struct push *p);

static struct ptrack *track_get(struct push *p, uint64_t id, int create)
{
	for (size_t i = 0; i < p->ntrack; i++)
		if (p->track[i].id == id)
			return &p->track[i];
	if (!create)
		return NULL;
	if (p->ntrack == p->captrack) {
		p->captrack = p->captrack ? p->captrack * 2 : 16;
		p->track = es_reallocarray(p->track, p->captrack, sizeof *p->track);
	}
	p->track[p->ntrack] = (struct ptrack){ .id = id };
	return &p->track[p->ntrack++];
}

static void track_drop(struct push *p, uint64_t id)
{
	for (size_t i = 0; i < p->ntrack; i++) {
		if (p->track[i].id == id) {
			p->track[i] = p->track[--p->ntrack];
			return;
		}
	}
}

static int is_busy(struct push *p, uint64_t id)
{
	for (int i = 0; i < PUSH_PARALLEL; i++)
		if (p->busy[i] == id)
			return 1;
	return 0;
}

static void set_busy(struct push *p, uint64_t id, int on)
{
	for (int i = 0; i < PUSH_PARALLEL; i++) {
		if (on && p->busy[i] == 0) {
			p->busy[i] = id;
			return;
		}
		if (!on && p->busy[i] == id) {
			p->busy[i] = 0;
			return;
		}
	}
}

static void marker_path(const struct push *p, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%016llx.5xx", p->delivery_dir, (unsigned long long)id);
}

/* ---- curl on the libuv loop ------------------------------------------- */

static void check_multi(struct push *p);

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct csock *s = h->data;
	struct push *p = s->p;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(p->multi, s->fd, flags, &running);
	check_multi(p);
}

static void csock_closed(uv_handle_t *h)
{
	free(h->data);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct push *p = userp;
	struct csock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, csock_closed);
			curl_multi_assign(p->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = es_calloc(1, sizeof *s);
		s->fd = fd;
		s->p = p;
		if (uv_poll_init_socket(p->d->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		curl_multi_assign(p->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, poll_cb);
	return 0;
}

static void curl_timer_cb(uv_timer_t *t)
{
	struct push *p = t->data;
	int running;

	curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi(p);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct push *p = userp;

	(void)multi;
	if (timeout_ms < 0)
		uv_timer_stop(&p->curl_timer);
	else
		uv_timer_start(&p->curl_timer, curl_timer_cb, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n, room = PUSH_MAX_RESPONSE - x->resp_len;

	if (len > room)
		len = room;
	memcpy(x->resp + x->resp_len, data, len);
	x->resp_len += len;
	x->resp[x->resp_len] = '\0';
	return size * n;
}

static size_t header_cb(char *data, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof name - 1 && len < 256 && strncasecmp(data, name, sizeof name - 1) == 0) {
		char v[256];
		size_t vl = len - (sizeof name - 1);
		memcpy(v, data + sizeof name - 1, vl);
		v[vl] = '\0';
		x->retry_after = policy_retry_after(v, esd_now());
	}
	return len;
}

static int xferinfo_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)userp;
	(void)dltotal;
	(void)dlnow;
	/* The whole body is on its way and no answer has come yet. */
	if (ultotal > 0 && ulnow == ultotal)
		crash_point("mid-delivery");
	return 0;
}

/* ---- One payload: load → send → finish -------------------------------- */

static void load_work(void *arg)
{
	struct xfer *x = arg;
	struct push *p = x->p;
	spool_entry_t e;

	if (spool_get(p->d->spool, x->id, &e) == 1)
		snprintf(x->source, sizeof x->source, "%s", e.source);
	x->load_err = spool_load(p->d->spool, x->id, &x->body, &x->len);
}

static void xfer_free(struct xfer *x)
{
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curlx_slist_free_secret(x->hdrs);
	free(x->body);
	free(x);
}

static void xfer_end(struct push *p, struct xfer *x)
{
	set_busy(p, x->id, 0);
	p->inflight--;
	xfer_free(x);
}

static void start_send(struct push *p, struct xfer *x)
{
	esd_t *d = p->d;
	CURL *e;
	struct ptrack *t;
	int gz;

	if (!p->url || p->auth_paused || !p->auth_hdr1) {
		/* A reload removed the URL (or the token was refused) meanwhile. */
		xfer_end(p, x);
		return;
	}
	e = curlx_easy_new();
	if (!e) {
		esd_error(d, NULL, x->id, "cannot create a curl handle");
		xfer_end(p, x);
		return;
	}
	x->easy = e;
	x->retry_after = -1;
	gz = x->len >= 2 && ((unsigned char *)x->body)[0] == 0x1f && ((unsigned char *)x->body)[1] == 0x8b;
	x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
	if (gz)
		x->hdrs = curl_slist_append(x->hdrs, "Content-Encoding: gzip");
	x->hdrs = curl_slist_append(x->hdrs, p->auth_hdr1);
	x->hdrs = curl_slist_append(x->hdrs, p->auth_hdr2);
	x->hdrs = curl_slist_append(x->hdrs, "Expect:");

	curl_easy_setopt(e, CURLOPT_URL, p->url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, d->cfg.central.timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, d->cfg.central.timeout < 30 ? d->cfg.central.timeout : 30L);
	t = track_get(p, x->id, 1);
	t->attempts++;
	p->attempts++;
	if (curl_multi_add_handle(p->multi, e) != CURLM_OK) {
		esd_error(d, NULL, x->id, "cannot start the transfer");
		xfer_end(p, x);
		return;
	}
	for (int i = 0; i < PUSH_PARALLEL; i++) {
		if (!p->sending[i]) {
			p->sending[i] = x;
			break;
		}
	}
}

static void load_done(esd_t *d, void *arg, int cancelled)
{
	struct xfer *x = arg;
	struct push *p = x->p;

	if (cancelled || p->closing) {
		xfer_end(p, x);
		return;
	}
	if (x->load_err == -ENOENT) {
		/* Delivered or moved meanwhile: nothing to do. */
		xfer_end(p, x);
		pump(p);
		return;
	}
	if (x->load_err < 0) {
		esd_error(d, x->source[0] ? x->source : NULL, x->id,
		          "spool file unusable (%s): moved to bad/; its log file is counted again",
		          es_strerror(x->load_err));
		esd_bad_add(d, x->id);
		watch_rescan(d, 0);
		watch_kick(d);   /* It no longer takes room in the spool. */
		track_drop(p, x->id);
		xfer_end(p, x);
		pump(p);
		return;
	}
	start_send(p, x);
}

/* The finishing step, in the pool: remove or reject the spool file, keep
 * the 5xx marker and the attention log. */
static void finish_work(void *arg)
{
	struct xfer *x = arg;
	struct push *p = x->p;
	char marker[4200];

	marker_path(p, x->id, marker, sizeof marker);
	switch (x->verdict) {
	case POLICY_DELIVERED:
	case POLICY_DUPLICATE:
		if (x->verdict == POLICY_DUPLICATE && x->saw_5xx && !x->refinish) {
			FILE *f = fopen(p->attention_log, "a");
			if (f) {
				fprintf(f, "%lld payload %016llx (%s): %s\n", (long long)esd_now(),
				        (unsigned long long)x->id, x->source, x->why);
				fclose(f);
			}
		}
		x->fin_err = spool_done(p->d->spool, x->id);
		crash_point("after-spool-done");
		if (x->fin_err == -ENOENT)
			x->fin_err = 0;
		unlink(marker);
		break;
	case POLICY_REJECT:
		x->fin_err = spool_reject(p->d->spool, x->id, x->why);
		if (x->fin_err == -ENOENT)
			x->fin_err = 0;
		unlink(marker);
		break;
	case POLICY_RETRY:
		if (x->saw_5xx) {
			int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
		}
		break;
	case POLICY_AUTH:
		break;
	}
}

static void retry_timer_cb(uv_timer_t *t)
{
	struct push *p = t->data;
	p->backoff = 0;
	pump(p);
}

static void start_backoff(struct push *p, long retry_after)
{
	esd_t *d = p->d;
	long initial = d->cfg.central.retry_initial, max = d->cfg.central.retry_max;
	uint64_t delay_ms;

	if (retry_after >= 0) {
		/* The server said when (policy_retry_after() bounded it): believe
		 * it, even beyond retry.max. */
		delay_ms = (uint64_t)retry_after * 1000;
		if (p->backoff) {
			int64_t left = p->next_attempt - esd_now();
			if (left * 1000 >= (int64_t)delay_ms)
				return;
		}
	} else {
		if (p->backoff)
			return;   /* A parallel transfer already started this round. */
		delay_ms = policy_backoff_ms(initial, max, p->failures, policy_rng_next(&p->rng));
	}
	p->backoff = 1;
	p->next_attempt = esd_now() + (int64_t)((delay_ms + 999) / 1000);
	uv_timer_start(&p->retry_timer, retry_timer_cb, delay_ms, 0);
	sdlog(&d->log, LOG_INFO, NULL, 0, "next delivery attempt in %.1f s", delay_ms / 1000.0);
}


#define PUSH_FIX_MS 5000   /* Between attempts to update the spool after an answer. */

static void refinish_start(struct push *p, struct ptrack *t);

static void fix_timer_cb(uv_timer_t *h)
{
	struct push *p = h->data;

	for (size_t i = 0; i < p->ntrack; i++)
		if (p->track[i].unfinished && !is_busy(p, p->track[i].id) && p->inflight < PUSH_PARALLEL)
			refinish_start(p, &p->track[i]);
}

/* The answer is final but the spool file could not be removed or moved (the
 * state directory is full or read-only): the payload is not sent again;
 * the update is retried every PUSH_FIX_MS and deliveries wait for it. */
static int finish_failed(struct push *p, struct xfer *x)
{
	esd_t *d = p->d;
	struct ptrack *t;

	if (x->fin_err >= 0 || x->verdict == POLICY_RETRY || x->verdict == POLICY_AUTH)
		return 0;
	t = track_get(p, x->id, 1);
	if (!t->unfinished) {
		t->unfinished = (int)x->verdict + 1;
		snprintf(t->why, sizeof t->why, "%s", x->why);
		p->nunfinished++;
		esd_error(d, x->source, x->id, "%s, but the spool cannot be updated: %s; it is not "
		          "sent again, the update is retried every %d s and deliveries wait",
		          x->verdict == POLICY_REJECT ? "rejected" : "delivered",
		          es_strerror(x->fin_err), PUSH_FIX_MS / 1000);
	}
	if (!p->closing)
		uv_timer_start(&p->fix_timer, fix_timer_cb, PUSH_FIX_MS, 0);
	return 1;
}

static void finish_done(esd_t *d, void *arg, int cancelled)
{
	struct xfer *x = arg;
	struct push *p = x->p;

	if (finish_failed(p, x)) {
		if (!x->refinish && x->verdict != POLICY_REJECT) {
			/* Delivered all the same: count it now, once. */
			if (x->verdict == POLICY_DELIVERED)
				p->delivered++;
			else
				p->duplicates++;
		} else if (!x->refinish) {
			p->rejected++;
		}
		xfer_end(p, x);
		esd_notify_status(d);
		return;
	}
	if (x->refinish) {
		struct ptrack *t = track_get(p, x->id, 0);
		if (t && t->unfinished) {
			t->unfinished = 0;
			p->nunfinished--;
		}
		sdlog(&d->log, LOG_NOTICE, x->source, x->id, "the spool is updated after the answer");
		track_drop(p, x->id);
		xfer_end(p, x);
		if (!p->nunfinished)
			watch_kick(d);
		pump(p);
		esd_notify_status(d);
		return;
	}
	if (x->fin_err < 0)
		esd_error(d, x->source, x->id, "cannot update the spool after delivery: %s",
		          es_strerror(x->fin_err));
	switch (x->verdict) {
	case POLICY_DELIVERED:
	case POLICY_DUPLICATE:
		if (x->verdict == POLICY_DELIVERED)
			p->delivered++;
		else
			p->duplicates++;
		p->failures = 0;
		p->last_at = esd_now();
		p->last_id = x->id;
		p->last_http = x->http;
		snprintf(p->last_source, sizeof p->last_source, "%s", x->source);
		snprintf(p->last_result, sizeof p->last_result, "%s",
		         x->verdict == POLICY_DELIVERED ? "delivered" : "duplicate");
		track_drop(p, x->id);
		watch_kick(d);   /* The spool may have room again. */
		break;
	case POLICY_REJECT:
		p->rejected++;
		track_drop(p, x->id);
		watch_kick(d);
		break;
	default:
		break;
	}
	(void)cancelled;
	xfer_end(p, x);
	pump(p);
	esd_notify_status(d);
}

static void classify(struct push *p, struct xfer *x, CURLcode cc)
{
	esd_t *d = p->d;
	struct ptrack *t = track_get(p, x->id, 1);
	long http = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &http);
	x->http = http;
	x->verdict = policy_classify(cc == CURLE_OK, http, x->resp);
	if (cc != CURLE_OK) {
		snprintf(x->why, sizeof x->why, "transfer failed: %s",
		         x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
	} else if (x->verdict == POLICY_DELIVERED) {
		snprintf(x->why, sizeof x->why, "HTTP %ld", http);
	} else if (x->verdict == POLICY_DUPLICATE) {
		snprintf(x->why, sizeof x->why,
		         "answered HTTP %ld 'already exists'%s", http,
		         t->saw_5xx ? " after an earlier 5xx: the central service may have lost it" : "");
	} else if (x->verdict == POLICY_AUTH) {
		snprintf(x->why, sizeof x->why, "the central service refused the token (HTTP %ld)", http);
	} else if (x->verdict == POLICY_REJECT) {
		/* Keep the first line of the answer: it says what was wrong. */
		char excerpt[200];
		size_t n = strcspn(x->resp, "\r\n");
		snprintf(excerpt, sizeof excerpt, "%.*s", (int)(n < 199 ? n : 199), x->resp);
		snprintf(x->why, sizeof x->why, "HTTP %ld: %s", http, excerpt);
	} else {
		char excerpt[160];
		size_t n = strcspn(x->resp, "\r\n");
		snprintf(excerpt, sizeof excerpt, "%.*s", (int)(n < 159 ? n : 159), x->resp);
		snprintf(x->why, sizeof x->why, "HTTP %ld%s%s", http, excerpt[0] ? ": " : "", excerpt);
		if (http >= 500)
			t->saw_5xx = 1;
	}
	x->saw_5xx = t->saw_5xx;

	switch (x->verdict) {
	case POLICY_DELIVERED:
		crash_point("after-2xx");
		sdlog(&d->log, LOG_INFO, x->source, x->id, "delivered (%s, %zu bytes, attempt %u)",
		      x->why, x->len, t->attempts);
		break;
	case POLICY_DUPLICATE:
		if (x->saw_5xx) {
			char msg[1024];
			snprintf(msg, sizeof msg, "payload %016llx (%s) %s", (unsigned long long)x->id,
			         x->source, x->why);
			sdlog(&d->log, LOG_ALERT, x->source, x->id, "ATTENTION: %s", x->why);
			if (cJSON_GetArraySize(p->attention) < 100)
				cJSON_AddItemToArray(p->attention, cJSON_CreateString(msg));
			esd_error(d, x->source, x->id, "%s", x->why);
		} else {
			sdlog(&d->log, LOG_NOTICE, x->source, x->id, "duplicate: %s; counted as delivered",
			      x->why);
		}
		break;
	case POLICY_AUTH:
		p->auth_paused = 1;
		snprintf(p->auth_msg, sizeof p->auth_msg, "%s: deliveries paused until reload", x->why);
		esd_error(d, NULL, 0, "%s", p->auth_msg);
		break;
	case POLICY_REJECT:
		sdlog(&d->log, LOG_ALERT, x->source, x->id, "rejected, kept in spool/rejected/: %s", x->why);
		esd_error(d, x->source, x->id, "payload rejected: %s", x->why);
		break;
	case POLICY_RETRY:
		/* Parallel transfers failing together are one failed round. */
		if (!p->backoff)
			p->failures++;
		snprintf(p->last_failure, sizeof p->last_failure, "%s", x->why);
		esd_error(d, x->source, x->id, "delivery failed, will retry: %s", x->why);
		start_backoff(p, x->retry_after);
		break;
	}

	for (int i = 0; i < PUSH_PARALLEL; i++)
		if (p->sending[i] == x)
			p->sending[i] = NULL;
	curl_multi_remove_handle(p->multi, x->easy);
	curl_easy_cleanup(x->easy);
	x->easy = NULL;
	free(x->body);   /* Not needed by the finishing step. */
	x->body = NULL;
	if (x->verdict == POLICY_AUTH || (x->verdict == POLICY_RETRY && !x->saw_5xx)) {
		xfer_end(p, x);
		return;
	}
	if (work_call(d, finish_work, finish_done, x) < 0) {
		esd_error(d, x->source, x->id, "cannot queue the spool update");
		xfer_end(p, x);
	}
}

static void check_multi(struct push *p)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		classify(p, x, m->data.result);
	}
}

static void refinish_start(struct push *p, struct ptrack *t)
{
	struct xfer *x = es_calloc(1, sizeof *x);
	spool_entry_t e;

	x->p = p;
	x->id = t->id;
	x->refinish = 1;
	x->verdict = (enum policy_verdict)(t->unfinished - 1);
	snprintf(x->why, sizeof x->why, "%s", t->why);
	if (spool_get(p->d->spool, t->id, &e) == 1)
		snprintf(x->source, sizeof x->source, "%s", e.source);
	set_busy(p, x->id, 1);
	p->inflight++;
	if (work_call(p->d, finish_work, finish_done, x) < 0) {
		xfer_end(p, x);
		uv_timer_start(&p->fix_timer, fix_timer_cb, PUSH_FIX_MS, 0);
	}
}

/* Starts as many transfers as allowed, oldest payload first. */
static void pump(struct push *p)
{
	esd_t *d = p->d;
	spool_entry_t list[PUSH_PARALLEL * 8];
	size_t n, i;

	if (p->closing || !p->url || p->auth_paused || p->backoff || p->nunfinished ||
	    atomic_load(&d->stopping))
		return;
	while (p->inflight < PUSH_PARALLEL) {
		/* Busy ones are at most PUSH_PARALLEL; held ones at most `workers`
		 * (one failed ledger append stops the reading). */
		n = spool_list(d->spool, list, sizeof list / sizeof list[0]);
		for (i = 0; i < n && (is_busy(p, list[i].id) || esd_payload_is_held(d, list[i].id)); i++)
			;
		if (i == n)
			return;
		struct xfer *x = es_calloc(1, sizeof *x);
		x->p = p;
		x->id = list[i].id;
		snprintf(x->source, sizeof x->source, "%s", list[i].source);
		set_busy(p, x->id, 1);
		p->inflight++;
		if (work_call(d, load_work, load_done, x) < 0) {
			esd_error(d, NULL, x->id, "cannot queue a spool load");
			xfer_end(p, x);
			return;
		}
	}
}

/* ---- Life cycle ------------------------------------------------------- */

static void free_auth(struct push *p)
{
	/* Scrub the token before freeing it. */
	if (p->auth_hdr1) {
		explicit_bzero(p->auth_hdr1, strlen(p->auth_hdr1));
		free(p->auth_hdr1);
	}
	if (p->auth_hdr2) {
		explicit_bzero(p->auth_hdr2, strlen(p->auth_hdr2));
		free(p->auth_hdr2);
	}
	p->auth_hdr1 = p->auth_hdr2 = NULL;
	free(p->url);
	p->url = NULL;
}

static void load_auth(struct push *p)
{
	esd_t *d = p->d;
	size_t n;

	free_auth(p);
	if (!d->cfg.central.url || !d->token)
		return;
	p->url = es_strdup(d->cfg.central.url);
	n = strlen(d->token) + 64;
	p->auth_hdr1 = es_malloc(n);
	snprintf(p->auth_hdr1, n, "Authentication: Bearer %s", d->token);
	p->auth_hdr2 = es_malloc(n);
	snprintf(p->auth_hdr2, n, "Authorization: Bearer %s", d->token);
}

/* Restores the 5xx memory of payloads still pending. */
static void load_markers(struct push *p)
{
	spool_entry_t *list;
	size_t n, cap = 1024;
	char marker[4200];
	struct stat st;

	for (;;) {
		list = es_calloc(cap, sizeof *list);
		n = spool_list(p->d->spool, list, cap);
		if (n < cap)
			break;
		free(list);
		cap *= 4;
	}
	for (size_t i = 0; i < n; i++) {
		marker_path(p, list[i].id, marker, sizeof marker);
		if (stat(marker, &st) == 0)
			track_get(p, list[i].id, 1)->saw_5xx = 1;
	}
	free(list);
}

int push_init(esd_t *d)
{
	struct push *p = es_calloc(1, sizeof *p);
	size_t n = strlen(d->cfg.state_directory) + 32;

	p->d = d;
	d->push = p;
	uv_timer_init(d->loop, &p->curl_timer);
	p->curl_timer.data = p;
	uv_timer_init(d->loop, &p->retry_timer);
	p->retry_timer.data = p;
	uv_timer_init(d->loop, &p->fix_timer);
	p->fix_timer.data = p;
	p->attention = cJSON_CreateArray();
	p->multi = curl_multi_init();
	if (!p->multi)
		return -ENOMEM;
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
	p->delivery_dir = es_malloc(n);
	snprintf(p->delivery_dir, n, "%s/delivery", d->cfg.state_directory);
	if (mkdir(p->delivery_dir, 0700) != 0 && errno != EEXIST) {
		int rc = -errno;
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot create %s: %s", p->delivery_dir, es_strerror(rc));
		return rc;
	}
	p->attention_log = es_malloc(n);
	snprintf(p->attention_log, n, "%s/attention.log", d->cfg.state_directory);
	if (getrandom(&p->rng, sizeof p->rng, 0) != (ssize_t)sizeof p->rng || p->rng == 0)
		p->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL | 1;

	load_auth(p);
	load_markers(p);
	pump(p);
	return 0;
}

void push_close(esd_t *d)
{
	struct push *p = d->push;

	if (!p || p->closing)
		return;
	p->closing = 1;
	/* Transfers in flight are abandoned: the payloads stay in the spool and a
	 * repeated one is answered "already exists" at worst. */
	for (int i = 0; i < PUSH_PARALLEL; i++) {
		struct xfer *x = p->sending[i];
		if (!x)
			continue;
		p->sending[i] = NULL;
		curl_multi_remove_handle(p->multi, x->easy);
		xfer_end(p, x);
	}
	/* Cleaning up now, while the loop runs, lets curl close its poll handles. */
	if (p->multi)
		curl_multi_cleanup(p->multi);
	p->multi = NULL;
	uv_close((uv_handle_t *)&p->curl_timer, NULL);
	uv_close((uv_handle_t *)&p->retry_timer, NULL);
	uv_close((uv_handle_t *)&p->fix_timer, NULL);
}

void push_free(esd_t *d)
{
	struct push *p = d->push;

	if (!p)
		return;
	if (p->multi)
		curl_multi_cleanup(p->multi);
	free_auth(p);
	free(p->track);
	cJSON_Delete(p->attention);
	free(p->delivery_dir);
	free(p->attention_log);
	free(p);
	d->push = NULL;
}

void push_kick(esd_t *d)
{
	if (d->push)
		pump(d->push);
}

void push_retry_now(esd_t *d)
{
	struct push *p = d->push;

	if (p->backoff) {
		uv_timer_stop(&p->retry_timer);
		p->backoff = 0;
	}
	p->failures = 0;
	pump(p);
}

void push_reconfigure(esd_t *d)
{
	struct push *p = d->push;

	load_auth(p);
	if (p->auth_paused)
		sdlog(&d->log, LOG_NOTICE, NULL, 0, "reloaded: deliveries resume");
	p->auth_paused = 0;
	p->auth_msg[0] = '\0';
	push_retry_now(d);
}

int push_inflight(esd_t *d)
{
	return d->push ? d->push->inflight : 0;
}

void push_status_json(esd_t *d, cJSON *obj)
{
	struct push *p = d->push;
	cJSON *dl = cJSON_AddObjectToObject(obj, "delivery");
	const char *state;

	if (!p->url)
		state = "disabled";
	else if (p->auth_paused)
		state = "paused-auth";
	else if (p->nunfinished)
		state = "spool-update";
	else if (p->backoff)
		state = "backoff";
	else if (p->inflight)
		state = "sending";
	else
		state = "idle";
	cJSON_AddStringToObject(dl, "state", state);
	if (p->auth_paused)
		cJSON_AddStringToObject(dl, "auth_problem", p->auth_msg);
	cJSON_AddNumberToObject(dl, "in_flight", p->inflight);
	cJSON_AddNumberToObject(dl, "consecutive_failures", p->failures);
	if (p->backoff)
		cJSON_AddNumberToObject(dl, "next_attempt_s", (double)(p->next_attempt - esd_now()));
	cJSON_AddNumberToObject(dl, "attempts", (double)p->attempts);
	cJSON_AddNumberToObject(dl, "delivered", (double)p->delivered);
	cJSON_AddNumberToObject(dl, "duplicates", (double)p->duplicates);
	cJSON_AddNumberToObject(dl, "rejected", (double)p->rejected);
	cJSON_AddNumberToObject(dl, "unfinished", (double)p->nunfinished);
	if (p->last_failure[0])
		cJSON_AddStringToObject(dl, "last_failure", p->last_failure);

	if (p->last_at) {
		cJSON *ld = cJSON_AddObjectToObject(obj, "last_delivery");
		char id[17];
		snprintf(id, sizeof id, "%016llx", (unsigned long long)p->last_id);
		cJSON_AddNumberToObject(ld, "at", (double)p->last_at);
		cJSON_AddNumberToObject(ld, "age_s", (double)(esd_now() - p->last_at));
		cJSON_AddStringToObject(ld, "payload", id);
		cJSON_AddStringToObject(ld, "file", p->last_source);
		cJSON_AddStringToObject(ld, "result", p->last_result);
		cJSON_AddNumberToObject(ld, "http", (double)p->last_http);
	} else {
		cJSON_AddNullToObject(obj, "last_delivery");
	}
	cJSON_AddItemReferenceToObject(obj, "attention", p->attention);
}
