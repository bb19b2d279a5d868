/*
 * rweb.h - the route GET|HEAD PREFIX/reports/...: eidastats-report's output
 * directory (setting report_dir) on the web.  Which URL names which file,
 * and what is refused, is rpath.h's; this module answers.
 *
 *   PREFIX/reports           301 to PREFIX/reports/ (and PERIOD to PERIOD/)
 *   PREFIX/reports/          DIR/index.html; PERIOD/ its index.html; PERIOD/FILE
 *                            public: anybody, "Cache-Control: public, max-age=300"
 *   PREFIX/reports/PERIOD/nodes/FILE   the node's private files, for a request
 *                            bearing that node's submission token (auth.h, the
 *                            same lookup as submit): "Cache-Control: private,
 *                            no-store", "Vary: Authorization"
 *   everything else (networks/, hidden files, "..", "//", %00, backslashes,
 *   symbolic links below DIR, other directories)   404
 *
 * Private files, in this order: no token 401 (with WWW-Authenticate:
 * Bearer), whatever the file (so that nobody learns which files exist);
 * an unknown or expired token 403; a valid token of another node 403, also
 * when that node's file does not exist; the node's own file 404 when it is
 * missing.  The database down: 503.
 *
 * Every file goes out with its Content-Type (rpath_ctype), Content-Length,
 * Last-Modified and ETag (inode, size and modification time); a request
 * whose If-None-Match holds that ETag, or (without If-None-Match) whose
 * If-Modified-Since is not older than the file, is answered 304.  Files are
 * sent from their descriptor (hreq_file), never read into memory.
 * report_dir unset: 404 with a sentence saying so.
 *
 * No state; runs in the request's worker thread.
 */
#ifndef ES_INGEST_RWEB_H
#define ES_INGEST_RWEB_H

struct hreq;

/* The finish hook of the route (route.h). */
int rweb_finish(struct hreq *rq);

#endif
