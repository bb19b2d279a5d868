#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "error.h"
#include "fsx.h"

#include "auth.h"
#include "hreq.h"
#include "rpath.h"
#include "rweb.h"

#define REPORTS "/reports"
#define HTTP_DATE "%a, %d %b %Y %H:%M:%S GMT"
#define PUBLIC_CACHE "public, max-age=300"
#define PRIVATE_CACHE "private, no-store"

static int not_found(struct hreq *rq)
{
	return hreq_text(rq, MHD_HTTP_NOT_FOUND, "Not found");
}

static int redirect(struct hreq *rq, const char *location)
{
	char loc[RPATH_MAX + 256];

	snprintf(loc, sizeof loc, "%s" REPORTS "%s", rq->cfg->prefix, location);
	if (hreq_header(rq, MHD_HTTP_HEADER_LOCATION, loc) < 0)
		return not_found(rq);
	return hreq_text(rq, MHD_HTTP_MOVED_PERMANENTLY, "Moved to %s", loc);
}

/* The requester must be the node owning file: 0 when it is, else answered (> 0) or < 0. */
static int check_owner(struct hreq *rq, const char *file)
{
	char err[512], fsname[RPATH_NAME_MAX];
	int rc;

	rc = auth_node(rq->svc->write_pool, hreq_get_header(rq, "Authentication"),
	               hreq_get_header(rq, MHD_HTTP_HEADER_AUTHORIZATION), &rq->who, err, sizeof err);
	if (rc == -EACCES) {
		hreq_header(rq, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"eidastats\"");
		rc = hreq_text(rq, MHD_HTTP_UNAUTHORIZED,
		               "A node's report needs that node's submission token (Authorization: Bearer)");
	} else if (rc == ES_EAUTH) {
		rc = hreq_text(rq, MHD_HTTP_FORBIDDEN, "No valid token provided");
	} else if (rc == -ENOTCONN) {
		ingest_log("%s", err);
		rc = hreq_text(rq, MHD_HTTP_SERVICE_UNAVAILABLE, "The database is unavailable; try again later");
	} else if (rc < 0) {
		ingest_log("%s", err);
		rc = hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error");
	} else if (fsx_safe_name(rq->who.name, fsname, sizeof fsname) < 0 ||
	           !rpath_node_owns(file, fsname)) {
		rc = hreq_text(rq, MHD_HTTP_FORBIDDEN, "This report belongs to another node");
	} else {
		return 0;
	}
	return rc < 0 ? rc : 1;
}

/* Whether the request's validators match the file: it is then answered 304. */
static bool not_modified(struct hreq *rq, const char *etag, time_t mtime)
{
	const char *inm = hreq_get_header(rq, MHD_HTTP_HEADER_IF_NONE_MATCH);
	const char *ims = hreq_get_header(rq, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	struct tm tm;

	if (inm)   /* A list of tags, weak ones (W/"...") compared by their tag. */
		return strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL;
	if (!ims)
		return false;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(ims, HTTP_DATE, &tm);
	return end && *end == '\0' && timegm(&tm) >= mtime;
}

int rweb_finish(struct hreq *rq)
{
	const char *dir = rq->cfg->report_dir, *prefix = rq->cfg->prefix;
	char path[RPATH_MAX + 256], etag[96], date[64];
	size_t plen = strlen(prefix);
	struct rpath rp;
	struct stat st;
	struct tm tm;
	int fd, rc;

	if (!dir)
		return hreq_text(rq, MHD_HTTP_NOT_FOUND,
		                 "Reports are not published by this service (setting report_dir is not set)");
	/* The raw path, decoded strictly here: libmicrohttpd's decoding cuts at %00. */
	if (!rq->raw_path || rpath_decode(rq->raw_path, strlen(rq->raw_path), path, sizeof path) < 0 ||
	    strncmp(path, prefix, plen) != 0 || strncmp(path + plen, REPORTS, strlen(REPORTS)) != 0)
		return not_found(rq);
	switch (rpath_map(path + plen + strlen(REPORTS), &rp)) {
	case RPATH_NOTFOUND:
		return not_found(rq);
	case RPATH_REDIRECT:
		return redirect(rq, rp.location);
	case RPATH_NODE:
		if ((rc = check_owner(rq, rp.file)) != 0)
			return rc < 0 ? rc : 0;
		break;
	case RPATH_PUBLIC:
		break;
	}
	rc = rpath_open(dir, rp.rel, &fd, &st);
	if (rc == -ENOENT)
		return not_found(rq);
	if (rc < 0) {
		ingest_log("report_dir %s: %s: %s", dir, rp.rel, es_strerror(rc));
		return hreq_text(rq, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error");
	}
	snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
	         (unsigned long long)st.st_size,
	         (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
	gmtime_r(&st.st_mtim.tv_sec, &tm);
	strftime(date, sizeof date, HTTP_DATE, &tm);
	hreq_header(rq, MHD_HTTP_HEADER_ETAG, etag);
	hreq_header(rq, MHD_HTTP_HEADER_LAST_MODIFIED, date);
	hreq_header(rq, MHD_HTTP_HEADER_CACHE_CONTROL, rp.kind == RPATH_NODE ? PRIVATE_CACHE : PUBLIC_CACHE);
	hreq_header(rq, "X-Content-Type-Options", "nosniff");
	if (rp.kind == RPATH_NODE)
		hreq_header(rq, MHD_HTTP_HEADER_VARY, "Authorization");
	/* A 304 is the file's answer without its body: libmicrohttpd sends no body for
	 * 304 and the Content-Length stays the file's, as RFC 9110 wants. */
	if (not_modified(rq, etag, st.st_mtim.tv_sec))
		return hreq_file(rq, MHD_HTTP_NOT_MODIFIED, NULL, fd, (uint64_t)st.st_size);
	return hreq_file(rq, MHD_HTTP_OK, rpath_ctype(rp.file), fd, (uint64_t)st.st_size);
}
