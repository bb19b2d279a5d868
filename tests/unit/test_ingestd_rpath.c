#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "ingestd/rpath.h"
#include "unit.h"

TEST(ingestd_rpath_decode)
{
	char out[64];

	ASSERT_OK(rpath_decode("/a%2e%2E/b%20c", 14, out, sizeof out));
	ASSERT_STREQ(out, "/a../b c");
	ASSERT_OK(rpath_decode("/x%2fy", 6, out, sizeof out));
	ASSERT_STREQ(out, "/x/y");
	/* NUL, controls, backslashes (plain or encoded), malformed escapes. */
	ASSERT_ERR(rpath_decode("/a%00.html", 10, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%0a", 5, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a\\b", 4, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%5cb", 6, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%5Cb", 6, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%7f", 5, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%", 3, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%2", 4, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/a%zz", 5, out, sizeof out), ES_EFORMAT);
	ASSERT_ERR(rpath_decode("/abcdef", 7, out, 4), ES_ELIMIT);
}

/* Expects sub to map to kind with rel (or location for a redirect). */
static void expect(const char *sub, enum rpath_kind kind, const char *what)
{
	struct rpath rp;

	if (rpath_map(sub, &rp) != kind || rp.kind != kind)
		unit_fail(__FILE__, __LINE__, "'%s': kind %d, expected %d", sub, (int)rp.kind, (int)kind);
	if (kind == RPATH_REDIRECT && strcmp(rp.location, what) != 0)
		unit_fail(__FILE__, __LINE__, "'%s': location '%s', expected '%s'", sub, rp.location, what);
	if ((kind == RPATH_PUBLIC || kind == RPATH_NODE) &&
	    (strcmp(rp.rel, what) != 0 || strcmp(rp.file, strrchr(what, '/') ? strrchr(what, '/') + 1 : what) != 0))
		unit_fail(__FILE__, __LINE__, "'%s': rel '%s', expected '%s'", sub, rp.rel, what);
}

TEST(ingestd_rpath_map)
{
	expect("", RPATH_REDIRECT, "/");
	expect("/", RPATH_PUBLIC, "index.html");
	expect("/index.html", RPATH_PUBLIC, "index.html");
	expect("/2025-01", RPATH_REDIRECT, "/2025-01/");
	expect("/2025", RPATH_REDIRECT, "/2025/");
	expect("/2025-01/", RPATH_PUBLIC, "2025-01/index.html");
	expect("/2025/", RPATH_PUBLIC, "2025/index.html");
	expect("/2025-01/report.json", RPATH_PUBLIC, "2025-01/report.json");
	expect("/2025-01/nodes.csv", RPATH_PUBLIC, "2025-01/nodes.csv");
	expect("/2025-12/nodes/GFZ.html", RPATH_NODE, "2025-12/nodes/GFZ.html");
	expect("/2025-12/nodes/GFZ-networks.csv", RPATH_NODE, "2025-12/nodes/GFZ-networks.csv");
	expect("/2025-12/nodes/", RPATH_NOTFOUND, NULL);
	expect("/2025-12/networks/GFZ/GE.html", RPATH_NOTFOUND, NULL);
	expect("/2025-12/networks/", RPATH_NOTFOUND, NULL);
	expect("/2025-12/other/x.csv", RPATH_NOTFOUND, NULL);
	/* Traversal and hidden names, at every depth. */
	expect("/..", RPATH_NOTFOUND, NULL);
	expect("/../etc/passwd", RPATH_NOTFOUND, NULL);
	expect("/2025-01/../index.html", RPATH_NOTFOUND, NULL);
	expect("/2025-01/./index.html", RPATH_NOTFOUND, NULL);
	expect("/2025-01/nodes/../nodes.csv", RPATH_NOTFOUND, NULL);
	expect("/2025-01/nodes/..", RPATH_NOTFOUND, NULL);
	expect("//index.html", RPATH_NOTFOUND, NULL);
	expect("/2025-01//index.html", RPATH_NOTFOUND, NULL);
	expect("/.htaccess", RPATH_NOTFOUND, NULL);
	expect("/2025-01/.hidden.csv", RPATH_NOTFOUND, NULL);
	expect("/2025-01/nodes/.GFZ.html", RPATH_NOTFOUND, NULL);
	expect("/2025-01/index.html.tmp.AbC123", RPATH_NOTFOUND, NULL);
	/* Only periods as directories; no files deeper than nodes/. */
	expect("/2025-13/index.html", RPATH_NOTFOUND, NULL);
	expect("/20251/index.html", RPATH_NOTFOUND, NULL);
	expect("/x/", RPATH_NOTFOUND, NULL);
	expect("/x/index.html", RPATH_NOTFOUND, NULL);
	expect("/2025-01/nodes/a/b", RPATH_NOTFOUND, NULL);
	expect("index.html", RPATH_NOTFOUND, NULL);
}

TEST(ingestd_rpath_node_owns)
{
	ASSERT(rpath_node_owns("GFZ.html", "GFZ"));
	ASSERT(rpath_node_owns("GFZ.json", "GFZ"));
	ASSERT(rpath_node_owns("GFZ-networks.csv", "GFZ"));
	ASSERT(rpath_node_owns("GFZ-stations.csv", "GFZ"));
	ASSERT(!rpath_node_owns("GFZ2.html", "GFZ"));
	ASSERT(!rpath_node_owns("GFZ-networks.html", "GFZ"));
	ASSERT(!rpath_node_owns("GFZ.", "GFZ"));
	ASSERT(!rpath_node_owns("GFZ-.csv", "GFZ"));
	ASSERT(!rpath_node_owns("GFZ", "GFZ"));
	ASSERT(!rpath_node_owns("index.html", "GFZ"));
	/* A node whose name extends another's with '-' or '.' is told apart by the suffix. */
	ASSERT(!rpath_node_owns("GFZ.x.html", "GFZ"));
	ASSERT(!rpath_node_owns("GFZ-X.html", "GFZ"));
	ASSERT(rpath_node_owns("GFZ-X.html", "GFZ-X"));
	ASSERT(!rpath_node_owns("GFZ.html", ""));
}

TEST(ingestd_rpath_ctype)
{
	ASSERT_STREQ(rpath_ctype("index.html"), "text/html; charset=UTF-8");
	ASSERT_STREQ(rpath_ctype("report.json"), "application/json");
	ASSERT_STREQ(rpath_ctype("nodes.csv"), "text/csv; charset=UTF-8");
	ASSERT_STREQ(rpath_ctype("chart.png"), "image/png");
	ASSERT_STREQ(rpath_ctype("x.bin"), "application/octet-stream");
	ASSERT_STREQ(rpath_ctype("noext"), "application/octet-stream");
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		unit_fail(__FILE__, __LINE__, "cannot write %s", path);
}

TEST(ingestd_rpath_open)
{
	char root[] = "/tmp/es-rpath-XXXXXX", p[256], outside[64], cmd[256];
	struct stat st;
	int fd;

	ASSERT(mkdtemp(root) != NULL);
	snprintf(p, sizeof p, "%s/2025-01", root);
	ASSERT_OK(mkdir(p, 0755) < 0 ? -errno : 0);
	snprintf(p, sizeof p, "%s/2025-01/nodes.csv", root);
	put(p, "a,b\n");
	snprintf(outside, sizeof outside, "%s.secret", root);
	put(outside, "secret\n");
	/* Links below the root: to a file outside, to a directory outside, to a file inside. */
	snprintf(p, sizeof p, "%s/2025-01/leak.csv", root);
	ASSERT_OK(symlink(outside, p) < 0 ? -errno : 0);
	snprintf(p, sizeof p, "%s/2025-02", root);
	ASSERT_OK(symlink("/etc", p) < 0 ? -errno : 0);
	snprintf(p, sizeof p, "%s/2025-01/same.csv", root);
	ASSERT_OK(symlink("nodes.csv", p) < 0 ? -errno : 0);
	snprintf(p, sizeof p, "%s/2025-01/fifo.csv", root);
	ASSERT_OK(mkfifo(p, 0644) < 0 ? -errno : 0);

	ASSERT_OK(rpath_open(root, "2025-01/nodes.csv", &fd, &st));
	ASSERT_EQ(st.st_size, 4);
	close(fd);
	ASSERT_ERR(rpath_open(root, "2025-01/leak.csv", &fd, &st), -ENOENT);
	ASSERT_EQ(fd, -1);
	ASSERT_ERR(rpath_open(root, "2025-02/passwd", &fd, &st), -ENOENT);
	ASSERT_ERR(rpath_open(root, "2025-01/same.csv", &fd, &st), -ENOENT);
	ASSERT_ERR(rpath_open(root, "2025-01/fifo.csv", &fd, &st), -ENOENT);
	ASSERT_ERR(rpath_open(root, "2025-01", &fd, &st), -ENOENT);
	ASSERT_ERR(rpath_open(root, "2025-01/missing.csv", &fd, &st), -ENOENT);
	ASSERT_ERR(rpath_open(root, "2025-01/nodes.csv/x", &fd, &st), -ENOENT);

	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", root, outside);
	ASSERT_OK(system(cmd));
}
