#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "error.h"
#include "mem.h"
#include "push.h"
#include "watch.h"

#define STOP_GRACE_MS 10000   /* How long a stop waits for a file being read. */

int64_t esd_now(void)
{
	return (int64_t)time(NULL);
}

void esd_error(esd_t *d, const char *file, uint64_t payload, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	d->last_error.at = esd_now();
	if (file)
		snprintf(d->last_error.text, sizeof d->last_error.text, "%s: %s", file, msg);
	else
		snprintf(d->last_error.text, sizeof d->last_error.text, "%s", msg);
	sdlog(&d->log, LOG_ERR, file, payload, "%s", msg);
}

void esd_notify_status(esd_t *d)
{
	size_t done, waiting, failed;
	spool_stats_t st;

	if (!d->watch || !d->spool)
		return;
	char text[sizeof d->notified];

	watch_counts(d, &done, &waiting, &failed);
	spool_get_stats(d->spool, &st);
	snprintf(text, sizeof text, "files: %zu done, %zu waiting, %zu failed; spool: %zu pending%s",
	         done, waiting, failed, st.pending, d->spool_full ? " (full)" : "");
	/* The manager only needs to hear about changes. */
	if (strcmp(text, d->notified) == 0)
		return;
	memcpy(d->notified, text, sizeof text);
	sdnotify_status("%s", text);
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void bad_insert(esd_t *d, uint64_t id)
{
	if (d->nbad && bsearch(&id, d->bad_ids, d->nbad, sizeof id, id_cmp))
		return;
	if (d->nbad == d->capbad) {
		d->capbad = d->capbad ? d->capbad * 2 : 16;
		d->bad_ids = es_reallocarray(d->bad_ids, d->capbad, sizeof *d->bad_ids);
	}
	d->bad_ids[d->nbad++] = id;
	qsort(d->bad_ids, d->nbad, sizeof id, id_cmp);
}

void esd_bad_scan(esd_t *d)
{
	char path[4200];
	DIR *dir;
	struct dirent *de;

	snprintf(path, sizeof path, "%s/bad", spool_dir(d->spool));
	dir = opendir(path);
	if (!dir)
		return;
	pthread_mutex_lock(&d->bad_lock);
	while ((de = readdir(dir)) != NULL) {
		char *end;
		unsigned long long id;
		if (strspn(de->d_name, "0123456789abcdef") != 16 ||
		    strncmp(de->d_name + 16, ".payload", 8) != 0)
			continue;
		id = strtoull(de->d_name, &end, 16);
		if (end == de->d_name + 16 && id)
			bad_insert(d, (uint64_t)id);
	}
	pthread_mutex_unlock(&d->bad_lock);
	closedir(dir);
}

void esd_bad_add(esd_t *d, uint64_t id)
{
	pthread_mutex_lock(&d->bad_lock);
	bad_insert(d, id);
	pthread_mutex_unlock(&d->bad_lock);
}

int esd_payload_is_bad(esd_t *d, uint64_t id)
{
	int found;

	if (!id)
		return 0;
	pthread_mutex_lock(&d->bad_lock);
	found = d->nbad && bsearch(&id, d->bad_ids, d->nbad, sizeof id, id_cmp) != NULL;
	pthread_mutex_unlock(&d->bad_lock);
	return found;
}

void esd_held_add(esd_t *d, const ledger_rec_t *rec)
{
	pthread_mutex_lock(&d->held_lock);
	if (d->nheld == d->capheld) {
		d->capheld = d->capheld ? d->capheld * 2 : 8;
		d->held = es_reallocarray(d->held, d->capheld, sizeof *d->held);
	}
	d->held[d->nheld++] = *rec;
	pthread_mutex_unlock(&d->held_lock);
}

void esd_held_drop(esd_t *d, uint64_t id)
{
	pthread_mutex_lock(&d->held_lock);
	for (size_t i = 0; i < d->nheld; i++) {
		if (d->held[i].payload_id == id) {
			d->held[i--] = d->held[--d->nheld];
		}
	}
	pthread_mutex_unlock(&d->held_lock);
}

int esd_payload_is_held(esd_t *d, uint64_t id)
{
	int found = 0;

	pthread_mutex_lock(&d->held_lock);
	for (size_t i = 0; i < d->nheld && !found; i++)
		found = d->held[i].payload_id == id;
	pthread_mutex_unlock(&d->held_lock);
	return found;
}

int esd_held_flush(esd_t *d)
{
	int rc = 0;

	pthread_mutex_lock(&d->commit_lock);
	pthread_mutex_lock(&d->held_lock);
	while (d->nheld > 0) {
		ledger_rec_t *rec = &d->held[d->nheld - 1], known;
		int have = ledger_find_digest(d->ledger, rec->digest, &known) == 1 &&
		           known.payload_id == rec->payload_id;
		if (!have && (rc = ledger_add(d->ledger, rec)) < 0)
			break;
		d->nheld--;
	}
	pthread_mutex_unlock(&d->held_lock);
	pthread_mutex_unlock(&d->commit_lock);
	return rc;
}

/* Payloads spooled by a run that crashed before its ledger append are
 * recorded now, so their files are not counted a second time. */
int esd_recover(esd_t *d)
{
	size_t cap = 1024, n, fixed = 0;
	spool_entry_t *list;
	int rc = 0;

	for (;;) {
		list = es_calloc(cap, sizeof *list);
		n = spool_list(d->spool, list, cap);
		if (n < cap)
			break;
		free(list);
		cap *= 4;
	}
	for (size_t i = 0; i < n; i++) {
		ledger_rec_t rec;
		if (ledger_find_digest(d->ledger, list[i].source_digest, NULL) == 1)
			continue;
		memset(&rec, 0, sizeof rec);
		memcpy(rec.digest, list[i].source_digest, 32);
		snprintf(rec.name, sizeof rec.name, "%s", list[i].source);
		rec.payload_id = list[i].id;
		rec.done_at = esd_now();
		rec.status = LEDGER_DONE;
		rc = ledger_add(d->ledger, &rec);
		if (rc < 0) {
			sdlog(&d->log, LOG_ERR, list[i].source, list[i].id,
			      "cannot record a recovered payload in the ledger: %s", es_strerror(rc));
			break;
		}
		fixed++;
		sdlog(&d->log, LOG_NOTICE, list[i].source, list[i].id,
		      "recovered: payload spooled before a crash, now recorded in the ledger");
	}
	free(list);
	if (fixed)
		sdlog(&d->log, LOG_NOTICE, NULL, 0, "recovered %zu payloads into the ledger", fixed);
	return rc;
}

static void on_signal(uv_signal_t *h, int signum)
{
	esd_t *d = h->data;

	if (signum == SIGHUP) {
		char err[1024];
		int rc = esd_reload(d, err, sizeof err);
		if (rc < 0)
			sdlog(&d->log, LOG_ERR, NULL, 0, "reload refused, the old configuration stays: %s", err);
		return;
	}
	sdlog(&d->log, LOG_NOTICE, NULL, 0, "%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	esd_stop(d);
}

static void watchdog_cb(uv_timer_t *t)
{
	(void)t;
	sdnotify("WATCHDOG=1");
}

static int make_dir(esd_t *d, const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	int rc = -errno;
	sdlog(&d->log, LOG_ERR, NULL, 0, "cannot create %s: %s", path, es_strerror(rc));
	return rc;
}

/* One daemon per state directory: a second one must not even open the
 * spool (whose init removes temporary files the first may be writing). */
static int lock_state(esd_t *d)
{
	char path[4200];
	int rc;

	snprintf(path, sizeof path, "%s/lock", d->cfg.state_directory);
	/* Read-only: flock() needs no more, and the state directory's file
	 * system can then be remounted read-only under a running daemon. */
	d->lock_fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		rc = -errno;
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot open %s: %s", path, es_strerror(rc));
		return rc;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = -errno;
		if (rc == -EWOULDBLOCK) {
			sdlog(&d->log, LOG_ERR, NULL, 0,
			      "another eidastatsd uses the state directory %s; not starting a second one",
			      d->cfg.state_directory);
			return -EBUSY;
		}
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot lock %s: %s", path, es_strerror(rc));
		return rc;
	}
	return 0;
}

int esd_start(esd_t *d)
{
	size_t bad = 0, badlines = 0, n;
	netx_opts_t nopts;
	int rc;

	d->started = esd_now();
	d->eslog.fn = sdlog_sink;
	d->eslog.ctx = &d->log;
	d->pool_workers = d->cfg.workers;
	pthread_mutex_init(&d->commit_lock, NULL);
	pthread_mutex_init(&d->bad_lock, NULL);
	pthread_mutex_init(&d->held_lock, NULL);
	atomic_store(&d->stopping, 0);
	/* Handles first: esd_stop() closes them whatever failed below. */
	uv_signal_init(d->loop, &d->sig_term);
	uv_signal_init(d->loop, &d->sig_int);
	uv_signal_init(d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_timer_init(d->loop, &d->watchdog);
	d->watchdog.data = d;
	if ((rc = uv_signal_start(&d->sig_term, on_signal, SIGTERM)) < 0 ||
	    (rc = uv_signal_start(&d->sig_int, on_signal, SIGINT)) < 0 ||
	    (rc = uv_signal_start(&d->sig_hup, on_signal, SIGHUP)) < 0) {
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot watch signals: %s", uv_strerror(rc));
		return rc;   /* libuv's codes are -errno on Unix. */
	}

	rc = make_dir(d, d->cfg.state_directory, 0750);
	if (rc < 0)
		return rc;
	rc = lock_state(d);
	if (rc < 0)
		return rc;
	rc = spool_init_ex(&d->spool, d->cfg.state_directory, d->cfg.spool_max_bytes, &bad,
	                   &d->eslog);
	if (rc < 0) {
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot open the spool in %s: %s",
		      d->cfg.state_directory, es_strerror(rc));
		return rc;
	}
	if (bad)
		esd_error(d, NULL, 0, "%zu damaged spool files moved to %s/bad at start-up; "
		          "their log files are counted again", bad, spool_dir(d->spool));
	esd_bad_scan(d);
	rc = ledger_init_ex(&d->ledger, d->cfg.state_directory, &badlines);
	if (rc < 0) {
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot open the ledger in %s: %s",
		      d->cfg.state_directory, es_strerror(rc));
		return rc;
	}
	if (badlines)
		sdlog(&d->log, LOG_WARNING, NULL, 0, "ledger: %zu damaged lines ignored (a torn write)",
		      badlines);
	rc = esd_recover(d);
	if (rc < 0)
		return rc;

	n = strlen(d->cfg.state_directory) + 16;
	d->networks_cache = es_malloc(n);
	snprintf(d->networks_cache, n, "%s/networks", d->cfg.state_directory);
	rc = make_dir(d, d->networks_cache, 0750);
	if (rc < 0)
		return rc;
	memset(&nopts, 0, sizeof nopts);
	nopts.file = d->cfg.networks_file;
	nopts.url = d->cfg.networks_url;
	nopts.cache_dir = d->networks_cache;
	nopts.cache_ttl = 86400;
	nopts.log = &d->eslog;
	rc = netx_init(&d->netx, &nopts);
	if (rc < 0) {
		sdlog(&d->log, LOG_ERR, NULL, 0, "cannot set up the network registry: %s", es_strerror(rc));
		return rc;
	}


	rc = ctl_init(d);
	if (rc < 0)
		return rc;
	rc = watch_init(d);
	if (rc < 0)
		return rc;
	rc = push_init(d);
	if (rc < 0)
		return rc;

	d->watchdog_usec = sdnotify_watchdog_usec();
	if (d->watchdog_usec) {
		uint64_t ms = d->watchdog_usec / 2000;
		uv_timer_start(&d->watchdog, watchdog_cb, ms ? ms : 1, ms ? ms : 1);
	}
	sdlog(&d->log, LOG_INFO, NULL, 0, "eidastatsd %s watching %s (%s), state in %s, %s",
	      PACKAGE_VERSION, d->cfg.log_directory, d->cfg.file_pattern, d->cfg.state_directory,
	      d->cfg.central.url ? "delivering to the central service" : "no central.url: keeping payloads");
	sdnotify("READY=1");
	esd_notify_status(d);
	return 0;
}

static void stop_grace_cb(uv_timer_t *t)
{
	esd_t *d = t->data;

	/* A file still being read after the grace period is abandoned: nothing of
	 * it is stored yet, and it is read again after restart. */
	sdlog(&d->log, LOG_WARNING, NULL, 0,
	      "stopping with %d file(s) still being read; they will be read again after restart",
	      watch_running(d));
	_exit(d->exit_code);
}

void esd_stop(esd_t *d)
{
	if (atomic_exchange(&d->stopping, 1))
		return;
	sdnotify("STOPPING=1");
	watch_close(d);
	push_close(d);
	ctl_close(d);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	uv_timer_stop(&d->watchdog);
	/* The same handle serves as the grace timer; unreferenced, it does not
	 * keep the loop alive once the last job has finished. */
	uv_timer_start(&d->watchdog, stop_grace_cb, STOP_GRACE_MS, 0);
	uv_unref((uv_handle_t *)&d->watchdog);
}

void esd_fini(esd_t *d)
{
	/* The grace timer is the last handle: close it and let the loop finish. */
	if (d->loop && !uv_is_closing((uv_handle_t *)&d->watchdog)) {
		uv_close((uv_handle_t *)&d->watchdog, NULL);
		uv_run(d->loop, UV_RUN_DEFAULT);
	}
	watch_free(d);
	push_free(d);
	ctl_free(d);
	netx_fini(d->netx);
	ledger_fini(d->ledger);
	spool_fini(d->spool);
	free(d->networks_cache);
	if (d->lock_fd >= 0)
		close(d->lock_fd);   /* Releases the lock. */
	d->lock_fd = -1;
	pthread_mutex_destroy(&d->commit_lock);
	pthread_mutex_destroy(&d->bad_lock);
	pthread_mutex_destroy(&d->held_lock);
	free(d->bad_ids);
	free(d->held);
	if (d->token) {
		explicit_bzero(d->token, strlen(d->token));
		free(d->token);
	}
	d->token = NULL;
}

/* Keeps the old value of a setting that only a restart can change. */
static void keep_string(char **newv, char *oldv, const char *key, char *notes, size_t len)
{
	if ((*newv == NULL) != (oldv == NULL) || (oldv && strcmp(*newv, oldv) != 0)) {
		size_t used = strlen(notes);
		snprintf(notes + used, len - used, "%s%s changes only at restart", used ? "; " : "", key);
	}
	free(*newv);
	*newv = oldv ? es_strdup(oldv) : NULL;
}

int esd_reload(esd_t *d, char *err, size_t errlen)
{
	cfg_t nc;
	char *token = NULL;
	int rc;

	err[0] = '\0';
	sdnotify("RELOADING=1");
	rc = cfg_load(&nc, d->cfg_path, err, errlen);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", d->cfg_path, es_strerror(rc));
		goto refused;
	}
	if (nc.central.url) {
		rc = cfg_read_token(nc.central.token_file, &token, err, errlen);
		if (rc < 0) {
			if (!err[0])
				snprintf(err, errlen, "%s: %s", nc.central.token_file, es_strerror(rc));
			cfg_fini(&nc);
			goto refused;
		}
	}
	err[0] = '\0';
	keep_string(&nc.state_directory, d->cfg.state_directory, "state_directory", err, errlen);
	keep_string(&nc.control_socket, d->cfg.control_socket, "control_socket", err, errlen);
	keep_string(&nc.networks_url, d->cfg.networks_url, "networks.url", err, errlen);
	keep_string(&nc.networks_file, d->cfg.networks_file, "networks.file", err, errlen);
	if (nc.workers > d->pool_workers) {
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "%sworkers above %d need a restart",
		         used ? "; " : "", d->pool_workers);
		nc.workers = d->pool_workers;
	}
	if (nc.spool_max_bytes != d->cfg.spool_max_bytes) {
		size_t used = strlen(err);
		snprintf(err + used, errlen - used, "%sspool.max_bytes changes only at restart",
		         used ? "; " : "");
		nc.spool_max_bytes = d->cfg.spool_max_bytes;
	}
	cfg_fini(&d->cfg);
	d->cfg = nc;
	if (d->token) {
		explicit_bzero(d->token, strlen(d->token));
		free(d->token);
	}
	d->token = token;
	watch_reconfigure(d);
	push_reconfigure(d);
	sdlog(&d->log, LOG_NOTICE, NULL, 0, "configuration reloaded from %s%s%s", d->cfg_path,
	      err[0] ? ": " : "", err);
	sdnotify("READY=1");
	esd_notify_status(d);
	return 0;

refused:
	esd_error(d, NULL, 0, "reload refused, the old configuration stays: %s", err);
	sdnotify("READY=1");
	return rc < 0 ? rc : ES_ECONFIG;
}
