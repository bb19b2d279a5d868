#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "mem.h"
#include "push.h"
#include "watch.h"
#include "work.h"

enum wf_state { WF_SETTLING, WF_QUEUED, WF_RUNNING, WF_DONE, WF_FAILED, WF_IGNORED };

static const char *const wf_state_names[] = {
	"settling", "queued", "running", "done", "failed", "ignored"
};

struct wfile {
	char name[256];
	char day[11];            /* Day from the name, else from the mtime: order and `since`. */
	int compressed;
	struct scan_entry seen;  /* The identity of the last scan. */
	int64_t stable_since_ms; /* When we first saw this identity (monotonic). */
	int64_t not_before_ms;   /* Not queued before this (registry down, incomplete stream). */
	int64_t twin_since_ms;   /* When we first saw the twin's present mtime (monotonic). */
	int64_t wall_offset_ms;  /* Wall minus monotonic clock when first seen. */
	enum wf_state state;
	char reason[384];
	unsigned gen;            /* Scan generation that last saw it. */
	int gone;                /* Vanished while its job ran: free after the job. */
	int changed;             /* Changed while its job ran: evaluate again after. */
};

struct watch {
	esd_t *d;
	uv_fs_event_t ev;
	int ev_active;
	char *ev_dir;            /* Directory the fs_event watches. */
	uv_timer_t timer;
	int64_t timer_due_ms;    /* 0 when the timer is not armed. */
	struct wfile **v;        /* Sorted by name. */
	size_t n, cap;
	int scanning, rescan_wanted, retry_failed;
	unsigned gen;
	int running;
	int closing;
	int scan_error;          /* Last scan's error, to log a change only once. */
	uint64_t dir_dev, dir_ino;   /* The directory the last scan read (0: none yet). */
	int64_t wall_offset_ms;  /* Wall minus monotonic clock at the last scan. */
	int probing;             /* A state-directory probe is in the pool. */
};

/* The watcher's own waits run on the monotonic clock, which a change of the
 * wall clock does not move; the wall clock only serves to read file times. */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t watch_unchanged_ms(int64_t since_mono, int64_t offset_then, int64_t mtime_ms,
                           int64_t now, int64_t wall)
{
	int64_t seen = now - since_mono, by_mtime = mtime_ms > 0 ? wall - mtime_ms : 0;
	int64_t step = (wall - now) - offset_then;

	if (step > WATCH_WALL_JUMP_MS || step < -WATCH_WALL_JUMP_MS)
		return seen;
	return by_mtime > seen ? by_mtime : seen;
}

static int64_t unchanged_ms(const struct wfile *f, int64_t since_mono, int64_t mtime_ms,
                            int64_t now, int64_t wall)
{
	return watch_unchanged_ms(since_mono, f->wall_offset_ms, mtime_ms, now, wall);
}

static void schedule(struct watch *w, int64_t delay_ms);
static void dispatch(struct watch *w);
static void fs_event_cb(uv_fs_event_t *h, const char *filename, int events, int status);

/* The first YYYY-MM-DD in the name, else the UTC day of the mtime. */
static void file_day(const char *name, int64_t mtime_ns, char day[11])
{
	size_t n = strlen(name);
	for (size_t i = 0; i + 10 <= n; i++) {
		const char *p = name + i;
		if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
		    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) && p[4] == '-' &&
		    isdigit((unsigned char)p[5]) && isdigit((unsigned char)p[6]) && p[7] == '-' &&
		    isdigit((unsigned char)p[8]) && isdigit((unsigned char)p[9])) {
			memcpy(day, p, 10);
			day[10] = '\0';
			return;
		}
	}
	time_t t = (time_t)(mtime_ns / 1000000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(day, 11, "%Y-%m-%d", &tm);
}

static int same_identity(const struct fid *a, const struct fid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static void set_state(struct wfile *f, enum wf_state s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_state(struct wfile *f, enum wf_state s, const char *fmt, ...)
{
	va_list ap;
	f->state = s;
	va_start(ap, fmt);
	vsnprintf(f->reason, sizeof f->reason, fmt, ap);
	va_end(ap);
}

/* A fresh look at a file whose identity is new to us. */
static void reset_file(struct watch *w, struct wfile *f, int64_t now)
{
	const cfg_t *cfg = &w->d->cfg;

	f->stable_since_ms = now;
	f->twin_since_ms = now;
	f->wall_offset_ms = wall_ms() - now;
	f->not_before_ms = 0;
	file_day(f->name, f->seen.id.mtime_ns, f->day);
	if (f->seen.in_ledger)
		set_state(f, WF_DONE, "already counted (ledger)");
	else if (cfg->since[0] && strcmp(f->day, cfg->since) < 0)
		set_state(f, WF_IGNORED, "before since (%s)", cfg->since);
	else
		set_state(f, WF_SETTLING, "new");
}

/* Decides whether a settling file may be read now; returns when to look
 * again (ms, 0 = no particular time). */
static int64_t evaluate(struct watch *w, struct wfile *f, int64_t now)
{
	const cfg_t *cfg = &w->d->cfg;
	int64_t mtime_ms = f->seen.id.mtime_ns / 1000000, wall = wall_ms();
	int64_t age;

	if (f->state != WF_SETTLING)
		return 0;
	if (now < f->not_before_ms)
		return f->not_before_ms;
	/* An mtime before our first sighting proves the file was unchanged since
	 * then: every write moves the mtime. */
	age = unchanged_ms(f, f->stable_since_ms, mtime_ms, now, wall);
	if (age < cfg->settle * 1000) {
		snprintf(f->reason, sizeof f->reason, "settling: unchanged for %lld of %ld s",
		         (long long)(age / 1000), cfg->settle);
		return now + cfg->settle * 1000 - age;
	}
	if (f->compressed) {
		if (f->seen.twin) {
			snprintf(f->reason, sizeof f->reason,
			         "waiting for compression to finish: the uncompressed twin still exists");
			return 0;
		}
	} else {
		if (age < cfg->plain_after * 1000) {
			snprintf(f->reason, sizeof f->reason,
			         "uncompressed: read %ld s after its last change unless compressed first",
			         cfg->plain_after);
			return now + cfg->plain_after * 1000 - age;
		}
		if (f->seen.twin) {
			int64_t tage = unchanged_ms(f, f->twin_since_ms, f->seen.twin_mtime_ns / 1000000, now,
			                            wall);
			if (tage < cfg->plain_after * 1000) {
				snprintf(f->reason, sizeof f->reason, "being compressed");
				return now + cfg->plain_after * 1000 - tage;
			}
		}
	}
	set_state(f, WF_QUEUED, "queued");
	return 0;
}

static void file_free(struct wfile *f)
{
	free(f);
}

static void scan_done(esd_t *d, struct scan_entry *v, size_t n, int err, int truncated,
                      const struct scan_dir *dir)
{
	struct watch *w = d->watch;
	struct wfile **nv;
	size_t i = 0, k = 0, m = 0, cap;
	int64_t now = now_ms(), next = 0;

	w->scanning = 0;
	if (w->closing) {
		free(v);
		return;
	}
	if (err) {
		if (err != w->scan_error)
			esd_error(d, NULL, 0, "cannot scan the log directory %s: %s", d->cfg.log_directory,
			          es_strerror(err));
		w->scan_error = err;
		free(v);
		/* No inotify without the directory: look again soon. */
		schedule(w, WATCH_RETRY_S * 1000);
		return;
	}
	if (w->scan_error)
		sdlog(&d->log, LOG_NOTICE, NULL, 0, "the log directory %s can be read again",
		      d->cfg.log_directory);
	w->scan_error = 0;
	if (w->dir_dev && (dir->dev != w->dir_dev || dir->ino != w->dir_ino)) {
		/* Replaced (by a symbolic link, a move, a new mount): the path is
		 * followed; the files found there meet the ledger like any other,
		 * so content already counted is not counted again. */
		sdlog(&d->log, LOG_NOTICE, NULL, 0,
		      "the log directory %s is now another directory%s%s; reading the files there "
		      "(content already counted is not counted again)", d->cfg.log_directory,
		      dir->is_link ? ": a symbolic link to " : "", dir->is_link ? dir->target : "");
		if (w->ev_active) {
			uv_fs_event_stop(&w->ev);
			w->ev_active = 0;
		}
	}
	w->dir_dev = dir->dev;
	w->dir_ino = dir->ino;
	{
		int64_t offset = wall_ms() - now, step = offset - w->wall_offset_ms;
		if (w->wall_offset_ms && (step > WATCH_WALL_JUMP_MS || step < -WATCH_WALL_JUMP_MS))
			sdlog(&d->log, LOG_NOTICE, NULL, 0,
			      "the wall clock jumped by %+lld s; waits go on by the monotonic clock and "
			      "the times of files seen before the jump do not shorten them",
			      (long long)(step / 1000));
		w->wall_offset_ms = offset;
	}
	if (truncated)
		sdlog(&d->log, LOG_WARNING, NULL, 0, "more than %d files match in %s; the rest waits",
		      WORK_SCAN_MAX, d->cfg.log_directory);

	/* Merge the sorted scan into the sorted table. */
	w->gen++;
	cap = w->n + n;
	nv = es_calloc(cap ? cap : 1, sizeof *nv);
	while (i < w->n || k < n) {
		int c = i == w->n ? 1 : k == n ? -1 : strcmp(w->v[i]->name, v[k].name);
		if (c < 0) {
			/* Gone from the directory. */
			struct wfile *f = w->v[i++];
			if (f->state == WF_RUNNING) {
				f->gone = 1;
				nv[m++] = f;
			} else {
				file_free(f);
			}
		} else if (c > 0) {
			struct wfile *f = es_calloc(1, sizeof *f);
			snprintf(f->name, sizeof f->name, "%s", v[k].name);
			f->compressed = work_is_compressed_name(f->name, NULL);
			f->seen = v[k++];
			f->gen = w->gen;
			reset_file(w, f, now);
			nv[m++] = f;
		} else {
			struct wfile *f = w->v[i++];
			struct scan_entry *e = &v[k++];
			f->gen = w->gen;
			f->gone = 0;
			if (f->state == WF_RUNNING) {
				if (!same_identity(&f->seen.id, &e->id))
					f->changed = 1;
			} else if (!same_identity(&f->seen.id, &e->id)) {
				f->seen = *e;
				reset_file(w, f, now);
			} else {
				if (e->twin_mtime_ns != f->seen.twin_mtime_ns)
					f->twin_since_ms = now;
				f->seen.twin = e->twin;
				f->seen.twin_mtime_ns = e->twin_mtime_ns;
				f->seen.in_ledger = e->in_ledger;
				if (f->seen.in_ledger && f->state != WF_DONE)
					set_state(f, WF_DONE, "already counted (ledger)");
				else if (!f->seen.in_ledger && f->state == WF_DONE)
					reset_file(w, f, now);   /* Its payload was damaged. */
				else if (f->state == WF_FAILED && w->retry_failed)
					reset_file(w, f, now);
			}
			nv[m++] = f;
		}
	}
	free(v);
	free(w->v);
	w->v = nv;
	w->n = m;
	w->cap = cap;
	w->retry_failed = 0;

	for (i = 0; i < w->n; i++) {
		int64_t due = evaluate(w, w->v[i], now);
		if (due && (!next || due < next))
			next = due;
	}
	dispatch(w);

	/* Re-arm the watcher if the directory came back or changed. */
	if (!w->ev_active && !w->closing) {
		if (uv_fs_event_start(&w->ev, fs_event_cb, d->cfg.log_directory, 0) == 0)
			w->ev_active = 1;
	}
	if (w->rescan_wanted) {
		w->rescan_wanted = 0;
		schedule(w, 0);
	} else {
		int64_t delay = (d->state_error ? WATCH_RETRY_S : WATCH_RESCAN_S) * 1000;
		if (next && next - now < delay)
			delay = next - now < 0 ? 0 : next - now;
		/* Land a little after the due time so the file is really due. */
		schedule(w, delay + (next ? 50 : 0));
	}
	esd_notify_status(d);
}

struct probe {
	esd_t *d;
	int err;
};

static void probe_work(void *arg)
{
	struct probe *pr = arg;

	pr->err = work_probe_state(pr->d->cfg.state_directory);
	if (pr->err == 0)
		pr->err = esd_held_flush(pr->d);
}

static void probe_done(esd_t *d, void *arg, int cancelled)
{
	struct probe *pr = arg;
	struct watch *w = d->watch;

	w->probing = 0;
	if (!cancelled && !w->closing && d->state_error) {
		if (pr->err == 0) {
			sdlog(&d->log, LOG_NOTICE, NULL, 0,
			      "the state directory %s can be written again: taking files again",
			      d->cfg.state_directory);
			d->state_error = 0;
			dispatch(w);
			push_kick(d);   /* Payloads held back for their ledger record may go. */
			esd_notify_status(d);
		} else {
			schedule(w, WATCH_RETRY_S * 1000);
		}
	}
	free(pr);
}

/* While the state directory cannot be written, a cheap write probe (not a
 * file read in vain) tells when it can again. */
static void probe_state(struct watch *w)
{
	struct probe *pr;

	if (w->probing || !w->d->state_error)
		return;
	pr = es_calloc(1, sizeof *pr);
	pr->d = w->d;
	if (work_call(w->d, probe_work, probe_done, pr) < 0) {
		free(pr);
		return;
	}
	w->probing = 1;
}

static void timer_cb(uv_timer_t *t)
{
	struct watch *w = t->data;
	esd_t *d = w->d;
	int rc;

	w->timer_due_ms = 0;
	if (w->closing)
		return;
	probe_state(w);
	if (w->scanning) {
		w->rescan_wanted = 1;
		return;
	}
	rc = work_scan(d, d->cfg.log_directory, d->cfg.file_pattern, scan_done);
	if (rc < 0) {
		esd_error(d, NULL, 0, "cannot start a directory scan: %s", es_strerror(rc));
		schedule(w, WATCH_RESCAN_S * 1000);
		return;
	}
	w->scanning = 1;
}

/* Arms the scan timer unless it is already due sooner. */
static void schedule(struct watch *w, int64_t delay_ms)
{
	int64_t due = now_ms() + delay_ms;

	if (w->closing)
		return;
	if (w->timer_due_ms && w->timer_due_ms <= due)
		return;
	w->timer_due_ms = due;
	uv_timer_start(&w->timer, timer_cb, (uint64_t)(delay_ms < 0 ? 0 : delay_ms), 0);
}

static void fs_event_cb(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct watch *w = h->data;

	if (status < 0) {
		/* The directory went away or the watch broke: scans will restore it. */
		sdlog(&w->d->log, LOG_WARNING, NULL, 0, "directory watch stopped: %s; rescanning",
		      uv_strerror(status));
		uv_fs_event_stop(&w->ev);
		w->ev_active = 0;
	}
	/* Events are hints; coalesce a burst of them into one scan. */
	schedule(w, 200);
}

/* ---- Dispatch and job results ----------------------------------------- */

static void job_done(esd_t *d, void *ctx, const struct work_result *r);

static struct wfile *oldest_queued(struct watch *w)
{
	struct wfile *best = NULL;
	for (size_t i = 0; i < w->n; i++) {
		struct wfile *f = w->v[i];
		if (f->state != WF_QUEUED)
			continue;
		int c = best ? strcmp(f->day, best->day) : -1;
		if (c < 0 || (c == 0 && strcmp(f->name, best->name) < 0))
			best = f;
	}
	return best;
}

static void dispatch(struct watch *w)
{
	esd_t *d = w->d;

	while (!w->closing && !atomic_load(&d->stopping) && w->running < d->cfg.workers) {
		struct wfile *f = oldest_queued(w);
		struct work_file_req req;
		int rc;

		if (!f)
			break;
		/* Once full, the spool stays full for us until a delivery or a
		 * rejection frees room (watch_kick()): no file is read in vain. */
		if (d->spool_full || d->state_error)
			break;
		if (spool_is_full(d->spool)) {
			esd_error(d, NULL, 0, "the spool is full (spool.max_bytes = %llu): "
			          "not taking new files until payloads are delivered",
			          (unsigned long long)d->cfg.spool_max_bytes);
			d->spool_full = 1;
			break;
		}
		memset(&req, 0, sizeof req);
		snprintf(req.path, sizeof req.path, "%s/%s", d->cfg.log_directory, f->name);
		snprintf(req.name, sizeof req.name, "%s", f->name);
		req.expect = f->seen.id;
		req.granularity = d->cfg.central.granularity;
		req.compress = d->cfg.central.compress;
		/* Decoder threads come out of the same CPU budget as the workers: files
		 * aggregated side by side share the cores instead of oversubscribing them. */
		req.decoders = work_decoders(d->pool_workers, sysconf(_SC_NPROCESSORS_ONLN));
		rc = work_file(d, &req, job_done, f);
		if (rc < 0) {
			esd_error(d, f->name, 0, "cannot queue the file: %s", es_strerror(rc));
			break;
		}
		set_state(f, WF_RUNNING, "being read");
		f->changed = 0;
		w->running++;
	}
}

static void job_done(esd_t *d, void *ctx, const struct work_result *r)
{
	struct watch *w = d->watch;
	struct wfile *f = ctx;
	int64_t now = now_ms();

	w->running--;
	d->lines_read += r->counts.lines;
	d->lines_malformed += r->counts.malformed;
	d->refused_traces += r->counts.refused_traces;

	switch (r->outcome) {
	case WORK_COUNTED:
		d->files_counted++;
		set_state(f, WF_DONE, "%s", r->reason);
		sdlog(&d->log, LOG_INFO, f->name, r->payload_id,
		      "counted: %llu lines (%llu malformed), %zu statistics, %.2f s",
		      (unsigned long long)r->counts.lines, (unsigned long long)r->counts.malformed,
		      r->nstats, r->seconds);
		if (r->refused[0])
			sdlog(&d->log, LOG_NOTICE, f->name, r->payload_id,
			      "%llu traces refused by the network registry: %s",
			      (unsigned long long)r->counts.refused_traces, r->refused);
		if (d->push)
			push_kick(d);
		break;
	case WORK_EMPTY:
		set_state(f, WF_DONE, "%s", r->reason);
		sdlog(&d->log, LOG_NOTICE, f->name, 0, "no statistics in %llu lines; recorded as done",
		      (unsigned long long)r->counts.lines);
		break;
	case WORK_DUPLICATE:
		/* Its counts were counted once already: do not show them twice. */
		d->lines_read -= r->counts.lines;
		d->lines_malformed -= r->counts.malformed;
		d->refused_traces -= r->counts.refused_traces;
		set_state(f, WF_DONE, "%s", r->reason);
		sdlog(&d->log, LOG_INFO, f->name, r->payload_id, "%s", r->reason);
		break;
	case WORK_CHANGED:
		f->stable_since_ms = now;
		set_state(f, WF_SETTLING, "%s", r->reason);
		sdlog(&d->log, LOG_NOTICE, f->name, 0, "%s", r->reason);
		schedule(w, 0);   /* Learn its new identity. */
		break;
	case WORK_TRUNCATED: {
		int64_t age = unchanged_ms(f, f->stable_since_ms, f->seen.id.mtime_ns / 1000000, now,
		                           wall_ms());
		if (age >= d->cfg.plain_after * 1000) {
			set_state(f, WF_FAILED, "truncated: the compressed stream ends early and the file "
			          "has not changed for %ld s", d->cfg.plain_after);
			esd_error(d, f->name, 0, "%s", f->reason);
		} else {
			/* Maybe still being written: wait for a change or for plain_after. */
			f->not_before_ms = now + d->cfg.plain_after * 1000 - age;
			set_state(f, WF_SETTLING, "compressed stream not complete yet; waiting");
		}
		break;
	}
	case WORK_UNAVAIL: {
		long s = d->cfg.central.retry_initial;
		s = s < 5 ? 5 : s > 300 ? 300 : s;
		f->not_before_ms = now + s * 1000;
		set_state(f, WF_SETTLING, "%s (retry in %ld s)", r->reason, s);
		esd_error(d, f->name, 0, "%s", f->reason);
		break;
	}
	case WORK_FULL:
		set_state(f, WF_QUEUED, "%s", r->reason);
		if (!d->spool_full)
			esd_error(d, NULL, 0, "the spool is full (spool.max_bytes = %llu): "
			          "not taking new files until payloads are delivered",
			          (unsigned long long)d->cfg.spool_max_bytes);
		d->spool_full = 1;
		break;
	case WORK_STATEDIR:
		/* Not the file's fault: it waits, and so does every other file,
		 * until a write probe succeeds (probe_state()). */
		set_state(f, WF_QUEUED, "%s", r->reason);
		if (!d->state_error)
			esd_error(d, f->name, r->payload_id,
			          "the state directory %s cannot be written: %s; no file is taken "
			          "until it can (checked every %d s)", d->cfg.state_directory,
			          r->reason, WATCH_RETRY_S);
		d->state_error = r->err ? r->err : -EIO;
		break;
	case WORK_FAILED:
		set_state(f, WF_FAILED, "%s", r->reason);
		esd_error(d, f->name, 0, "%s", r->reason);
		break;
	case WORK_ABANDONED:
		set_state(f, WF_SETTLING, "%s", r->reason);
		break;
	}

	if (f->gone) {
		for (size_t i = 0; i < w->n; i++) {
			if (w->v[i] == f) {
				memmove(&w->v[i], &w->v[i + 1], (w->n - i - 1) * sizeof *w->v);
				w->n--;
				break;
			}
		}
		file_free(f);
	} else if (f->changed) {
		f->changed = 0;
		schedule(w, 0);
	}
	if (w->closing)
		return;
	dispatch(w);
	/* A waiting file may now be due, or the result changed what waits. */
	schedule(w, d->state_error ? WATCH_RETRY_S * 1000 :
	            d->spool_full ? WATCH_RESCAN_S * 1000 : 100);
	esd_notify_status(d);
}

/* ---- Life cycle and status -------------------------------------------- */

int watch_init(esd_t *d)
{
	struct watch *w = es_calloc(1, sizeof *w);
	int rc;

	w->d = d;
	d->watch = w;
	uv_timer_init(d->loop, &w->timer);
	w->timer.data = w;
	uv_fs_event_init(d->loop, &w->ev);
	w->ev.data = w;
	rc = uv_fs_event_start(&w->ev, fs_event_cb, d->cfg.log_directory, 0);
	if (rc < 0)
		sdlog(&d->log, LOG_WARNING, NULL, 0, "cannot watch %s (%s): relying on periodic scans",
		      d->cfg.log_directory, uv_strerror(rc));
	else
		w->ev_active = 1;
	w->ev_dir = es_strdup(d->cfg.log_directory);
	schedule(w, 0);
	return 0;
}

void watch_close(esd_t *d)
{
	struct watch *w = d->watch;

	if (!w || w->closing)
		return;
	w->closing = 1;
	uv_close((uv_handle_t *)&w->timer, NULL);
	uv_close((uv_handle_t *)&w->ev, NULL);
}

void watch_free(esd_t *d)
{
	struct watch *w = d->watch;

	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		file_free(w->v[i]);
	free(w->v);
	free(w->ev_dir);
	free(w);
	d->watch = NULL;
}

void watch_rescan(esd_t *d, int retry_failed)
{
	struct watch *w = d->watch;
	if (retry_failed)
		w->retry_failed = 1;
	schedule(w, 0);
}

void watch_kick(esd_t *d)
{
	struct watch *w = d->watch;
	if (!w || w->closing)
		return;
	if (d->spool_full) {
		sdlog(&d->log, LOG_NOTICE, NULL, 0, "the spool has room again: taking new files");
		d->spool_full = 0;
	}
	dispatch(w);
}

void watch_reconfigure(esd_t *d)
{
	struct watch *w = d->watch;
	int64_t now = now_ms();

	if (strcmp(w->ev_dir, d->cfg.log_directory) != 0) {
		/* Another directory: forget the old table, watch the new place. */
		uv_fs_event_stop(&w->ev);
		w->ev_active = 0;
		for (size_t i = 0; i < w->n; i++) {
			if (w->v[i]->state == WF_RUNNING)
				w->v[i]->gone = 1;
		}
		size_t m = 0;
		for (size_t i = 0; i < w->n; i++) {
			if (w->v[i]->state == WF_RUNNING)
				w->v[m++] = w->v[i];
			else
				file_free(w->v[i]);
		}
		w->n = m;
		free(w->ev_dir);
		w->ev_dir = es_strdup(d->cfg.log_directory);
		w->dir_dev = w->dir_ino = 0;
		if (uv_fs_event_start(&w->ev, fs_event_cb, d->cfg.log_directory, 0) == 0)
			w->ev_active = 1;
	} else {
		/* Same place: the rules (since, settle, ...) may differ; look again. */
		for (size_t i = 0; i < w->n; i++) {
			struct wfile *f = w->v[i];
			if (f->state == WF_SETTLING || f->state == WF_QUEUED || f->state == WF_IGNORED ||
			    f->state == WF_FAILED) {
				int64_t since = f->stable_since_ms;
				reset_file(w, f, now);
				f->stable_since_ms = since;
			}
		}
	}
	schedule(w, 0);
}

int watch_running(esd_t *d)
{
	return d->watch ? d->watch->running : 0;
}

void watch_counts(esd_t *d, size_t *done, size_t *waiting, size_t *failed)
{
	struct watch *w = d->watch;
	*done = *waiting = *failed = 0;
	for (size_t i = 0; w && i < w->n; i++) {
		switch (w->v[i]->state) {
		case WF_DONE: (*done)++; break;
		case WF_FAILED: (*failed)++; break;
		case WF_IGNORED: break;
		default: (*waiting)++; break;
		}
	}
}

void watch_status_json(esd_t *d, cJSON *obj)
{
	struct watch *w = d->watch;
	size_t done, waiting, failed, ignored = 0, listed_f = 0, listed_w = 0;
	cJSON *files = cJSON_AddObjectToObject(obj, "files");
	cJSON *fails = cJSON_AddArrayToObject(obj, "failures");
	cJSON *waits = cJSON_AddArrayToObject(obj, "waiting_files");

	watch_counts(d, &done, &waiting, &failed);
	for (size_t i = 0; i < w->n; i++) {
		struct wfile *f = w->v[i];
		cJSON *e;
		if (f->state == WF_IGNORED) {
			ignored++;
			continue;
		}
		if (f->state == WF_FAILED && listed_f < 100) {
			e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "file", f->name);
			cJSON_AddStringToObject(e, "reason", f->reason);
			cJSON_AddItemToArray(fails, e);
			listed_f++;
		} else if (f->state != WF_DONE && f->state != WF_FAILED && listed_w < 100) {
			e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "file", f->name);
			cJSON_AddStringToObject(e, "state", wf_state_names[f->state]);
			cJSON_AddStringToObject(e, "reason", f->reason);
			cJSON_AddItemToArray(waits, e);
			listed_w++;
		}
	}
	cJSON_AddNumberToObject(files, "done", (double)done);
	cJSON_AddNumberToObject(files, "waiting", (double)waiting);
	cJSON_AddNumberToObject(files, "failed", (double)failed);
	cJSON_AddNumberToObject(files, "running", (double)w->running);
	cJSON_AddNumberToObject(files, "ignored", (double)ignored);
	cJSON_AddNumberToObject(files, "ledger", (double)ledger_count(d->ledger));
	if (w->scan_error)
		cJSON_AddStringToObject(files, "directory_error", es_strerror(w->scan_error));
	if (d->state_error)
		cJSON_AddStringToObject(files, "state_directory_error", es_strerror(d->state_error));
}
