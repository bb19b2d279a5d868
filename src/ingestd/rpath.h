/*
 * rpath.h - which file of the report directory (setting report_dir) a URL
 * under PREFIX/reports names, and opening it without leaving that
 * directory.  The layout is the one eidastats-report writes:
 *
 *   DIR/index.html                      public
 *   DIR/PERIOD/ (PERIOD YYYY or YYYY-MM) public: index.html, report.json,
 *                                       the CSV files, any other plain file
 *   DIR/PERIOD/nodes/FILE               private: the node whose file name
 *                                       (fsx_safe_name) FILE starts with
 *   DIR/PERIOD/networks/...             never served
 *
 * Refused as not found (every one is ES_EFORMAT / RPATH_NOTFOUND): a
 * percent escape that is malformed or decodes to NUL, a control character,
 * a backslash, an empty component ("//"), "." and "..", a component
 * starting with '.' (hidden files), a half-written temporary file
 * ("NAME.tmp.XXXXXX", fsx.h), a directory other than the ones above, and
 * (rpath_open) any symbolic link below the directory or anything that is
 * not a regular file.
 *
 * Pure functions, no state; any thread.
 */
#ifndef ES_INGEST_RPATH_H
#define ES_INGEST_RPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define RPATH_MAX 512          /* Longest decoded path under /reports. */
#define RPATH_NAME_MAX 256     /* Longest node file name (fsx_safe_name). */

enum rpath_kind {
	RPATH_NOTFOUND = 0,   /* Refused or not in the layout: 404. */
	RPATH_REDIRECT,       /* A directory without its '/': redirect to location. */
	RPATH_PUBLIC,         /* rel is served to anybody. */
	RPATH_NODE            /* rel is served to the node owning file only. */
};

struct rpath {
	enum rpath_kind kind;
	char rel[RPATH_MAX];        /* Relative to the directory: "2025-01/index.html". */
	const char *file;           /* The last component of rel (points into rel). */
	char location[RPATH_MAX];   /* RPATH_REDIRECT: the path under /reports to go to. */
};

/*
 * Decodes the percent escapes of a raw URL path (len bytes) into out (cap
 * bytes, NUL-terminated): 0, or ES_EFORMAT for a malformed escape, %00, a
 * control character, a backslash (also encoded), or ES_ELIMIT when too long.
 */
int rpath_decode(const char *raw, size_t len, char *out, size_t cap);

/*
 * Maps sub, the decoded path after PREFIX/reports ("", "/", "/2025-01/",
 * "/2025/nodes/X.html"), to *out: a directory URL ending in '/' names its
 * index.html; "" and a period without its '/' redirect.  Returns out->kind.
 */
enum rpath_kind rpath_map(const char *sub, struct rpath *out);

/* Whether file (a name in PERIOD/nodes/) belongs to the node of file name fsname:
 * "FSNAME.EXT" or "FSNAME-WHAT.csv". */
bool rpath_node_owns(const char *file, const char *fsname);

/* The Content-Type of a file from its extension (application/octet-stream if unknown). */
const char *rpath_ctype(const char *file);

/*
 * Opens root/rel for reading, one component at a time with O_NOFOLLOW (a
 * symbolic link anywhere below root is refused; root itself may be one).
 * 0 with *fd (the caller closes it) and *st; -ENOENT when missing, a link,
 * or not a regular file; another -errno when root cannot be opened.
 */
int rpath_open(const char *root, const char *rel, int *fd, struct stat *st);

#endif
