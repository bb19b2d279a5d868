#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "crash.h"
#include "error.h"
#include "fsx.h"
#include "gz.h"
#include "mem.h"
#include "work.h"

/* The payload's "version", as eidastats aggregate writes it. */
#define PAYLOAD_VERSION "eidastats-" PACKAGE_VERSION

int work_check_regular(int fd, struct stat *st)
{
	if (fstat(fd, st) != 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -EINVAL;
}

int work_is_compressed_name(const char *name, size_t *stem)
{
	size_t n = strlen(name);
	static const char *const suffixes[] = { ".bz2", ".gz" };

	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		size_t s = strlen(suffixes[i]);
		if (n > s && strcmp(name + n - s, suffixes[i]) == 0) {
			if (stem)
				*stem = n - s;
			return 1;
		}
	}
	if (stem)
		*stem = n;
	return 0;
}

int work_state_unwritable(int err)
{
	return err == -ENOSPC || err == -EDQUOT || err == -EROFS || err == -EIO;
}

int work_probe_state(const char *state_dir)
{
	char path[4200], block[4096];
	size_t left = WORK_PROBE_BYTES;
	int fd, rc = 0;

	snprintf(path, sizeof path, "%s/.write-probe", state_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	memset(block, 0, sizeof block);
	while (left > 0 && rc == 0) {
		size_t n = left < sizeof block ? left : sizeof block;
		rc = fsx_write_all(fd, block, n);
		left -= n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (unlink(path) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static double mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fid_from_stat(struct fid *id, const struct stat *st)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/* ---- Generic calls ---------------------------------------------------- */

struct call_job {
	uv_work_t req;
	esd_t *d;
	work_fn fn;
	work_done_fn done;
	void *arg;
};

static void call_work(uv_work_t *req)
{
	struct call_job *j = req->data;
	j->fn(j->arg);
}

static void call_after(uv_work_t *req, int status)
{
	struct call_job *j = req->data;
	j->done(j->d, j->arg, status == UV_ECANCELED);
	free(j);
}

int work_call(esd_t *d, work_fn fn, work_done_fn done, void *arg)
{
	struct call_job *j = es_calloc(1, sizeof *j);
	int rc;

	j->req.data = j;
	j->d = d;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	rc = uv_queue_work(d->loop, &j->req, call_work, call_after);
	if (rc < 0) {
		free(j);
		return rc;
	}
	return 0;
}

/* ---- File jobs -------------------------------------------------------- */

struct file_job {
	uv_work_t req;
	esd_t *d;
	struct work_file_req in;
	struct work_result out;
	work_file_cb cb;
	void *ctx;
};

static void set_reason(struct work_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_reason(struct work_result *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

/* The commit step, under d->commit_lock: nothing is spooled for content the
 * ledger or the spool already has; the ledger learns the file only after
 * its payload is durable (doc/eidastatsd.8, the crash rule). */
static void commit_file(struct file_job *j, agg_t *agg, const uint8_t digest[32],
                        const struct fid *id)
{
	esd_t *d = j->d;
	struct work_result *r = &j->out;
	ledger_rec_t rec, known;
	uint64_t pid = 0;
	char *json = NULL, *body = NULL;
	size_t jlen = 0, blen = 0;
	int rc, known_found;

	memset(&rec, 0, sizeof rec);
	memcpy(rec.digest, digest, 32);
	rec.dev = id->dev;
	rec.ino = id->ino;
	rec.size = id->size;
	rec.mtime_ns = id->mtime_ns;
	snprintf(rec.name, sizeof rec.name, "%s", j->in.name);
	rec.done_at = esd_now();

	known_found = ledger_find_digest(d->ledger, digest, &known) == 1;
	if (known_found && esd_payload_is_bad(d, known.payload_id)) {
		/* Its payload was damaged before delivery (spool/bad/): count it anew. */
		sdlog(&d->log, LOG_NOTICE, j->in.name, known.payload_id,
		      "counting again: the payload made from this content was damaged");
	} else if (known_found) {
		/* Remember this copy's identity too, so it is not read again. */
		rec.payload_id = known.payload_id;
		rec.status = known.status;
		rc = ledger_add(d->ledger, &rec);
		r->outcome = WORK_DUPLICATE;
		r->payload_id = known.payload_id;
		set_reason(r, "same content as '%s', already counted", known.name);
		if (rc < 0)
			sdlog(&d->log, LOG_WARNING, j->in.name, 0, "cannot record a duplicate in the ledger: %s",
			      es_strerror(rc));
		if (rc < 0 && work_state_unwritable(rc)) {
			/* Not counted either way; the copy waits so the state problem is seen. */
			r->outcome = WORK_STATEDIR;
			r->err = rc;
			set_reason(r, "cannot write the ledger: %s; waiting", es_strerror(rc));
		}
		return;
	}
	if (spool_find_digest(d->spool, digest, &pid) == 1) {
		/* Spooled by a run that crashed before its ledger append. */
		rec.payload_id = pid;
		rec.status = LEDGER_DONE;
		rc = ledger_add(d->ledger, &rec);
		if (rc < 0)
			goto ledger_failed;
		esd_held_drop(d, pid);
		r->outcome = WORK_DUPLICATE;
		r->payload_id = pid;
		set_reason(r, "already spooled as payload %016llx", (unsigned long long)pid);
		return;
	}

	rc = agg_payload(agg, (time_t)esd_now(), PAYLOAD_VERSION, &json, &jlen);
	if (rc == ES_ENOSTATS) {
		rec.status = LEDGER_EMPTY;
		rc = ledger_add(d->ledger, &rec);
		if (rc < 0)
			goto ledger_failed;
		r->outcome = WORK_EMPTY;
		set_reason(r, "no statistics in the file");
		return;
	}
	if (rc < 0) {
		r->outcome = WORK_FAILED;
		r->err = rc;
		set_reason(r, "cannot make the payload: %s", es_strerror(rc));
		return;
	}
	if (j->in.compress) {
		rc = gz_buf(json, jlen, NULL, &body, &blen);
		free(json);
		if (rc < 0) {
			r->outcome = WORK_FAILED;
			r->err = rc;
			set_reason(r, "cannot compress the payload: %s", es_strerror(rc));
			return;
		}
	} else {
		body = json;
		blen = jlen;
	}

	rc = spool_put(d->spool, j->in.name, digest, body, blen, &pid);
	free(body);
	if (rc == ES_ELIMIT) {
		r->outcome = WORK_FULL;
		r->err = rc;
		set_reason(r, "the spool is full (spool.max_bytes); waiting for deliveries");
		return;
	}
	if (rc < 0) {
		r->outcome = work_state_unwritable(rc) ? WORK_STATEDIR : WORK_FAILED;
		r->err = rc;
		set_reason(r, "cannot write the spool: %s", es_strerror(rc));
		return;
	}
	crash_point("after-spool-write");

	rec.payload_id = pid;
	rec.status = LEDGER_DONE;
	rc = ledger_add(d->ledger, &rec);
	if (rc < 0) {
		/* The payload is durable but its file is not recorded: it is held
		 * back from delivery until the record is written (a retry of this
		 * file, esd_held_flush(), or recovery at the next start-up), so the
		 * file cannot be counted again meanwhile. */
		esd_held_add(d, &rec);
		r->payload_id = pid;
		r->outcome = WORK_STATEDIR;
		r->err = rc;
		set_reason(r, "cannot append to the ledger: %s; payload %016llx is held back",
		           es_strerror(rc), (unsigned long long)pid);
		return;
	}
	crash_point("after-ledger");
	r->outcome = WORK_COUNTED;
	r->payload_id = pid;
	set_reason(r, "counted as payload %016llx", (unsigned long long)pid);
	return;

ledger_failed:
	r->outcome = work_state_unwritable(rc) ? WORK_STATEDIR : WORK_FAILED;
	r->err = rc;
	set_reason(r, "cannot append to the ledger: %s", es_strerror(rc));
}

static void file_work(uv_work_t *req)
{
	struct file_job *j = req->data;
	esd_t *d = j->d;
	struct work_result *r = &j->out;
	struct stat st, after;
	struct fid id;
	uint8_t digest[32];
	agg_t *agg;
	double t0;
	int fd, fd2, rc;

	if (atomic_load(&d->stopping)) {
		r->outcome = WORK_ABANDONED;
		set_reason(r, "daemon stopping");
		return;
	}
	fd = open(j->in.path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		r->outcome = rc == -ENOENT ? WORK_CHANGED : WORK_FAILED;
		r->err = rc;
		set_reason(r, "cannot open: %s", es_strerror(rc));
		return;
	}
	if ((rc = work_check_regular(fd, &st)) != 0) {
		close(fd);
		r->outcome = WORK_FAILED;
		r->err = rc;
		if (rc == -EINVAL)
			set_reason(r, "not a readable regular file");
		else
			set_reason(r, "cannot stat: %s", es_strerror(rc));
		return;
	}
	fid_from_stat(&id, &st);
	if (id.dev != j->in.expect.dev || id.ino != j->in.expect.ino || id.size != j->in.expect.size ||
	    id.mtime_ns != j->in.expect.mtime_ns) {
		close(fd);
		r->outcome = WORK_CHANGED;
		set_reason(r, "changed since it was seen");
		return;
	}

	agg_opts_t opts = {
		.granularity = j->in.granularity,
		.reader_threads = j->in.decoders ? j->in.decoders : 1,
		.netx = d->netx,
	};
	agg = agg_new(&opts);
	/* A second descriptor to look at the file again once it is read. */
	fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	t0 = mono_seconds();
	rc = agg_file(agg, j->in.path, fd, digest);   /* Adopts fd. */
	r->seconds = mono_seconds() - t0;
	if (fd2 >= 0) {
		int src = fstat(fd2, &after);
		close(fd2);
		/* Truncated, rewritten or appended to while it was read: what was
		 * read is not the file's content.  Nothing is kept; the file
		 * settles again and is read whole (a rename does not count). */
		if (src == 0 && ((uint64_t)after.st_size != id.size ||
		                 (int64_t)after.st_mtim.tv_sec * 1000000000 + after.st_mtim.tv_nsec !=
		                 id.mtime_ns)) {
			agg_free(agg);
			r->outcome = WORK_CHANGED;
			r->err = 0;
			set_reason(r, "changed while being read (%llu bytes, now %llu): nothing counted; "
			           "it is read again once it settles", (unsigned long long)id.size,
			           (unsigned long long)after.st_size);
			return;
		}
	}
	r->counts = *agg_counts(agg);
	r->nstats = agg_nstats(agg);
	if (rc == 0 && r->counts.refused_traces) {
		char *s = agg_refused_summary(agg);
		if (s) {
			snprintf(r->refused, sizeof r->refused, "%s", s);
			free(s);
		}
	}
	if (rc < 0) {
		r->err = rc;
		switch (rc) {
		case ES_ETRUNC:
			r->outcome = WORK_TRUNCATED;
			set_reason(r, "the compressed stream is not complete");
			break;
		case ES_EUNAVAIL:
			r->outcome = WORK_UNAVAIL;
			set_reason(r, "the network registry could not be reached; the file waits");
			break;
		case -ENOENT:
			r->outcome = WORK_CHANGED;
			set_reason(r, "vanished while being read");
			break;
		default:
			r->outcome = WORK_FAILED;
			set_reason(r, "cannot aggregate: %s", es_strerror(rc));
			break;
		}
		agg_free(agg);
		return;
	}
	crash_point("after-parse");
	if (atomic_load(&d->stopping)) {
		agg_free(agg);
		r->outcome = WORK_ABANDONED;
		set_reason(r, "daemon stopping");
		return;
	}

	pthread_mutex_lock(&d->commit_lock);
	commit_file(j, agg, digest, &id);
	pthread_mutex_unlock(&d->commit_lock);
	agg_free(agg);
}

static void file_after(uv_work_t *req, int status)
{
	struct file_job *j = req->data;

	if (status == UV_ECANCELED) {
		j->out.outcome = WORK_ABANDONED;
		set_reason(&j->out, "cancelled");
	}
	j->cb(j->d, j->ctx, &j->out);
	free(j);
}

unsigned work_decoders(unsigned workers, long cpus)
{
	if (cpus < 1 || workers == 0 || (unsigned long)cpus <= workers)
		return 1;
	return (unsigned)(cpus / workers);
}

int work_file(esd_t *d, const struct work_file_req *in, work_file_cb cb, void *ctx)
{
	struct file_job *j = es_calloc(1, sizeof *j);
	int rc;

	j->req.data = j;
	j->d = d;
	j->in = *in;
	j->cb = cb;
	j->ctx = ctx;
	rc = uv_queue_work(d->loop, &j->req, file_work, file_after);
	if (rc < 0) {
		free(j);
		return rc;
	}
	return 0;
}

/* ---- Directory scans -------------------------------------------------- */

struct scan_job {
	uv_work_t req;
	esd_t *d;
	char *dir, *pattern;
	struct scan_entry *v;
	size_t n, cap;
	int err, truncated;
	struct scan_dir dirinfo;
	work_scan_cb cb;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_entry *)a)->name, ((const struct scan_entry *)b)->name);
}

static void scan_work(uv_work_t *req)
{
	struct scan_job *j = req->data;
	DIR *dir = opendir(j->dir);
	struct dirent *de;
	struct stat dst;

	if (!dir) {
		j->err = -errno;
		return;
	}
	if (fstat(dirfd(dir), &dst) == 0) {
		j->dirinfo.dev = (uint64_t)dst.st_dev;
		j->dirinfo.ino = (uint64_t)dst.st_ino;
	}
	if (lstat(j->dir, &dst) == 0 && S_ISLNK(dst.st_mode)) {
		char *real = realpath(j->dir, NULL);
		j->dirinfo.is_link = 1;
		snprintf(j->dirinfo.target, sizeof j->dirinfo.target, "%s", real ? real : "?");
		free(real);
	}
	while ((de = readdir(dir)) != NULL) {
		const char *name = de->d_name;
		struct scan_entry *e;
		struct stat st, tst;
		size_t stem;
		char twin[300];

		if (name[0] == '.' || strlen(name) >= sizeof e->name)
			continue;
		if (fnmatch(j->pattern, name, FNM_PERIOD) != 0)
			continue;
		if (fstatat(dirfd(dir), name, &st, 0) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (j->n == WORK_SCAN_MAX) {
			j->truncated = 1;
			break;
		}
		if (j->n == j->cap) {
			j->cap = j->cap ? j->cap * 2 : 64;
			j->v = es_reallocarray(j->v, j->cap, sizeof *j->v);
		}
		e = &j->v[j->n++];
		memset(e, 0, sizeof *e);
		snprintf(e->name, sizeof e->name, "%s", name);
		fid_from_stat(&e->id, &st);
		ledger_rec_t rec;
		e->in_ledger = ledger_find_file(j->d->ledger, e->id.dev, e->id.ino, e->id.size,
		                                e->id.mtime_ns, &rec) == 1 &&
		               !esd_payload_is_bad(j->d, rec.payload_id);
		/* The twin of X.bz2 is X; the twin of X is X.bz2 or X.gz. */
		if (work_is_compressed_name(name, &stem)) {
			snprintf(twin, sizeof twin, "%.*s", (int)stem, name);
			if (fstatat(dirfd(dir), twin, &tst, 0) == 0 && S_ISREG(tst.st_mode)) {
				e->twin = 1;
				e->twin_mtime_ns = (int64_t)tst.st_mtim.tv_sec * 1000000000 + tst.st_mtim.tv_nsec;
			}
		} else {
			static const char *const sfx[] = { ".bz2", ".gz" };
			for (size_t i = 0; i < 2 && !e->twin; i++) {
				snprintf(twin, sizeof twin, "%s%s", name, sfx[i]);
				if (fstatat(dirfd(dir), twin, &tst, 0) == 0 && S_ISREG(tst.st_mode)) {
					e->twin = 1;
					e->twin_mtime_ns = (int64_t)tst.st_mtim.tv_sec * 1000000000 +
					                   tst.st_mtim.tv_nsec;
				}
			}
		}
	}
	closedir(dir);
	if (j->n > 1)
		qsort(j->v, j->n, sizeof *j->v, entry_cmp);
}

static void scan_after(uv_work_t *req, int status)
{
	struct scan_job *j = req->data;

	if (status == UV_ECANCELED && !j->err)
		j->err = UV_ECANCELED;
	j->cb(j->d, j->v, j->n, j->err, j->truncated, &j->dirinfo);
	free(j->dir);
	free(j->pattern);
	free(j);
}

int work_scan(esd_t *d, const char *dir, const char *pattern, work_scan_cb cb)
{
	struct scan_job *j = es_calloc(1, sizeof *j);
	int rc;

	j->req.data = j;
	j->d = d;
	j->dir = es_strdup(dir);
	j->pattern = es_strdup(pattern);
	j->cb = cb;
	rc = uv_queue_work(d->loop, &j->req, scan_work, scan_after);
	if (rc < 0) {
		free(j->dir);
		free(j->pattern);
		free(j);
		return rc;
	}
	return 0;
}
