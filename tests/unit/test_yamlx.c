#include "config.h"

#include <errno.h>
#include <limits.h>

#include "unit.h"
#include "yamlx.h"

TEST(yamlx_durations)
{
	static const struct { const char *text; long want; } good[] = {
		{ "0", 0 }, { "30", 30 }, { "30s", 30 }, { "5m", 300 }, { "6h", 21600 },
		{ "1d", 86400 }, { "0d", 0 }, { "007", 7 },
	};
	static const char *const bad[] = {
		"", "-1", "+1", "1.5", "s", "5ms", "5 s", " 5", "5w", "1h30m", "5S",
		"9223372036854775808", "106751991167301d",
	};
	long v;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ASSERT_OK(yamlx_parse_duration(good[i].text, 86400, &v));
		ASSERT_EQ(v, good[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (yamlx_parse_duration(bad[i], LONG_MAX, &v) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "duration '%s' accepted", bad[i]);
	ASSERT_ERR(yamlx_parse_duration(NULL, LONG_MAX, &v), ES_EFORMAT);
	/* The bound is inclusive and applies after the unit. */
	ASSERT_OK(yamlx_parse_duration("1d", 86400, &v));
	ASSERT_ERR(yamlx_parse_duration("86401", 86400, &v), ES_ELIMIT);
	ASSERT_ERR(yamlx_parse_duration("1441m", 86400, &v), ES_ELIMIT);
	ASSERT_ERR(yamlx_parse_duration("106751991167300d", 86400, &v), ES_ELIMIT);
	ASSERT_OK(yamlx_parse_duration("9223372036854775807", LONG_MAX, &v));
	ASSERT_EQ(v, LONG_MAX);
}

TEST(yamlx_sizes)
{
	static const struct { const char *text; uint64_t want; } good[] = {
		{ "0", 0 }, { "1", 1 }, { "100B", 100 }, { "1K", 1024 }, { "1k", 1024 },
		{ "65536", 65536 }, { "64KiB", 65536 }, { "64MiB", 64ULL << 20 }, { "1GiB", 1ULL << 30 },
		{ "512M", 512ULL << 20 }, { "512MiB", 512ULL << 20 }, { "512MB", 512ULL << 20 },
		{ "1G", 1ULL << 30 }, { "2T", 2ULL << 40 }, { "16777215T", 16777215ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "-1", "1.5G", "G", "1X", "1GG", "1 G", "1iB", "1Gi", "1BB",
		"16777216T", "18446744073709551616",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ASSERT_OK(yamlx_parse_size(good[i].text, UINT64_MAX, &v));
		ASSERT(v == good[i].want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (yamlx_parse_size(bad[i], UINT64_MAX, &v) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "size '%s' accepted", bad[i]);
	ASSERT_ERR(yamlx_parse_size(NULL, 1, &v), ES_EFORMAT);
	ASSERT_OK(yamlx_parse_size("1KiB", 1024, &v));
	ASSERT_ERR(yamlx_parse_size("1025", 1024, &v), ES_ELIMIT);
}

/* A small schema: a, b and the section s with s.c. */
static const struct yamlx_key test_keys[] = {
	{ "a", 0 }, { "b", 0 }, { "s", 1 }, { "s.c", 0 },
};

struct seen {
	char a[64], b[64], c[64];
};

static int test_set(void *ctx, size_t k, const char *v, size_t len, char *why, size_t whylen)
{
	struct seen *s = ctx;
	char *slot[] = { s->a, s->b, NULL, s->c };

	if (strcmp(v, "bad") == 0) {
		snprintf(why, whylen, "'%s' is bad", v);
		return ES_ECONFIG;
	}
	ASSERT(slot[k] != NULL && len < 64);
	memcpy(slot[k], v, len + 1);
	return 0;
}

static int load(const char *text, unsigned flags, struct seen *seen, unsigned long *lines,
                char *err, size_t errlen)
{
	struct yamlx_schema s = {
		.keys = test_keys, .nkeys = 4, .set = test_set, .ctx = seen,
		.key_fmt = "key '%s': ", .flags = flags, .lines = lines,
	};

	memset(seen, 0, sizeof *seen);
	return yamlx_load_buffer(&s, "mem.yaml", text, strlen(text), err, errlen);
}

TEST(yamlx_load_buffer)
{
	struct seen seen;
	unsigned long lines[4];
	char err[512];

	ASSERT_OK(load("a: 1\n# c\ns:\n  c: x y\nb: 'q'\n", 0, &seen, lines, err, sizeof err));
	ASSERT_STREQ(seen.a, "1");
	ASSERT_STREQ(seen.b, "q");
	ASSERT_STREQ(seen.c, "x y");
	ASSERT_EQ(lines[0], 1);
	ASSERT_EQ(lines[2], 3);
	ASSERT_EQ(lines[3], 4);
	/* An empty document is accepted when the schema has no empty_msg. */
	ASSERT_OK(load("", 0, &seen, lines, err, sizeof err));
	ASSERT_EQ(lines[0], 0);
}

TEST(yamlx_load_refusals)
{
	static const struct { const char *text; unsigned flags; const char *want; } cases[] = {
		{ "a: 1\na: 2\n", 0, "mem.yaml:2: key 'a' given twice (first on line 1)" },
		{ "a: 1\nz: 2\n", 0, "mem.yaml:2: unknown key 'z'" },
		{ "s:\n  z: 2\n", 0, "mem.yaml:2: unknown key 's.z'" },
		{ "a: bad\n", 0, "mem.yaml:1: key 'a': 'bad' is bad" },
		{ "a: [1]\n", 0, "mem.yaml:1: key 'a': is a list, expected a single value" },
		{ "s: 1\n", 0, "mem.yaml:1: key 's': is a scalar, expected a mapping" },
		{ "a: &x 1\nb: *x\n", 0, "mem.yaml:1: key 'a': anchors and aliases" },
		{ "a: \"x\\0y\"\n", 0, "mem.yaml:1: key 'a': value contains a NUL" },
		{ "a: 'x\n", 0, "YAML syntax error" },
		{ "a: 1\n---\nb: 2\n", 0, "mem.yaml:2: more than one YAML document" },
		{ "- a\n", 0, "mem.yaml:1: the document is a list, expected a mapping" },
		{ "a: 1\nz:\n  c: 1\n", YAMLX_FLAT, "mem.yaml:3: 'z': nested mappings are not settings" },
		{ "a: [1, 2]\n", YAMLX_FLAT, "mem.yaml:1: 'a': a list is not a setting" },
	};
	struct seen seen;
	unsigned long lines[4];
	char err[512];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = load(cases[i].text, cases[i].flags, &seen, lines, err, sizeof err);
		if (rc != ES_ECONFIG || !strstr(err, cases[i].want))
			unit_fail(__FILE__, __LINE__, "'%s': rc %d, '%s' lacks '%s'", cases[i].text, rc,
			          err, cases[i].want);
	}
}

TEST(yamlx_key_error_format)
{
	unsigned long lines[4];
	struct yamlx_schema s = { .keys = test_keys, .nkeys = 4, .key_fmt = "%s: ", .lines = lines };
	char err[128];

	ASSERT_ERR(yamlx_key_error(&s, "f.yaml", 7, "a", err, sizeof err, "too %s", "big"), ES_ECONFIG);
	ASSERT_STREQ(err, "f.yaml:7: a: too big");
	ASSERT_ERR(yamlx_key_error(&s, "f.yaml", 0, "a", err, sizeof err, "x"), ES_ECONFIG);
	ASSERT_STREQ(err, "f.yaml: a: x");
}

TEST(yamlx_load_file_errors)
{
	unsigned long lines[4];
	struct seen seen;
	struct yamlx_schema s = { .keys = test_keys, .nkeys = 4, .set = test_set, .ctx = &seen,
	                          .lines = lines };
	const char *path = unit_tmp("big.yaml");
	char err[512], text[200];

	ASSERT_ERR(yamlx_load_file(&s, unit_tmp("absent.yaml"), 100, err, sizeof err), -ENOENT);
	ASSERT(strstr(err, "cannot open") && strstr(err, "absent.yaml: No such file"));
	memset(text, '#', sizeof text);
	text[sizeof text - 1] = '\n';
	unit_write(path, text, sizeof text);
	ASSERT_ERR(yamlx_load_file(&s, path, 100, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "larger than 100 bytes") != NULL);
	ASSERT_ERR(yamlx_load_file(&s, unit_tmpdir(), 100, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "not a regular file") != NULL);
	memset(&seen, 0, sizeof seen);
	ASSERT_OK(yamlx_load_file(&s, path, 1000, err, sizeof err));
}

TEST(yamlx_booleans)
{
	static const char *const yes[] = { "true", "True", "YES", "on" };
	static const char *const no[] = { "false", "no", "Off" };
	static const char *const bad[] = { "", "1", "0", "y", "maybe", "truex" };
	int v;

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		ASSERT_OK(yamlx_parse_bool(yes[i], &v));
		ASSERT_EQ(v, 1);
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		ASSERT_OK(yamlx_parse_bool(no[i], &v));
		ASSERT_EQ(v, 0);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ASSERT_ERR(yamlx_parse_bool(bad[i], &v), ES_EFORMAT);
	ASSERT_ERR(yamlx_parse_bool(NULL, &v), ES_EFORMAT);
}
