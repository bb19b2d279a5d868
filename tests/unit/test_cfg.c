#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "unit.h"

/* Writes text into NAME in the test's directory and returns the path (static buffer per slot). */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char bufs[4][4096];
	static int slot;
	char *path = bufs[slot++ % 4];
	FILE *f;

	snprintf(path, sizeof bufs[0], "%s/%s", unit_tmpdir(), name);
	f = fopen(path, "w");
	ASSERT(f != NULL);
	ASSERT(fputs(text, f) >= 0);
	ASSERT(fclose(f) == 0);
	ASSERT(chmod(path, mode) == 0);
	return path;
}

/* Loads text as a config; returns cfg_load's result, message in err. */
static int load_text(cfg_t *cfg, const char *text, char *err, size_t errlen)
{
	const char *path = write_file("eidastats.yaml", text, 0644);

	return cfg_load(cfg, path, err, errlen);
}

/* Expects text to be refused with a message "<path>:<line>: ..." containing want. */
static void expect_error(const char *text, unsigned line, const char *want)
{
	cfg_t cfg;
	char err[512], prefix[4200];
	int rc = load_text(&cfg, text, err, sizeof err);

	if (rc != ES_ECONFIG)
		unit_fail(__FILE__, __LINE__, "config accepted (rc %d) but should fail with '%s':\n%s",
		          rc, want, text);
	snprintf(prefix, sizeof prefix, "%s/eidastats.yaml:%u: ", unit_tmpdir(), line);
	if (line && strncmp(err, prefix, strlen(prefix)) != 0)
		unit_fail(__FILE__, __LINE__, "message '%s' does not start with '%s'", err, prefix);
	if (!strstr(err, want))
		unit_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", err, want);
	/* A failed load leaves nothing to free and a zeroed structure. */
	ASSERT(cfg.log_directory == NULL && cfg.path == NULL && cfg.central.url == NULL);
}

TEST(cfg_every_key)
{
	cfg_t cfg;
	char err[512];
	const char *text =
		"# a comment\n"
		"log_directory: /srv/seiscomp/var/log\n"
		"file_pattern: \"fdsnws.log.*\"\n"
		"state_directory: /srv/state\n"
		"since: 2024-02-29\n"
		"settle: 2m\n"
		"plain_after: 1d\n"
		"workers: 64\n"
		"control_socket: /run/x/ctl.sock\n"
		"central:\n"
		"  url: https://central.example.org/eidaws/statistics/1/submit\n"
		"  token_file: /etc/eidastats/token\n"
		"  granularity: day\n"
		"  retry:\n"
		"    initial: 5s\n"
		"    max: 1h\n"
		"  timeout: 90\n"
		"  compress: yes\n"
		"spool:\n"
		"  max_bytes: 512M\n"
		"networks:\n"
		"  url: http://127.0.0.1:8080/networks\n"
		"  file: /var/lib/eidastats/networks.json\n";

	ASSERT_OK(load_text(&cfg, text, err, sizeof err));
	ASSERT(strstr(cfg.path, "eidastats.yaml") != NULL);
	ASSERT_STREQ(cfg.log_directory, "/srv/seiscomp/var/log");
	ASSERT_STREQ(cfg.file_pattern, "fdsnws.log.*");
	ASSERT_STREQ(cfg.state_directory, "/srv/state");
	ASSERT_STREQ(cfg.since, "2024-02-29");
	ASSERT_EQ(cfg.settle, 120);
	ASSERT_EQ(cfg.plain_after, 86400);
	ASSERT_EQ(cfg.workers, 64);
	ASSERT_STREQ(cfg.control_socket, "/run/x/ctl.sock");
	ASSERT_STREQ(cfg.central.url, "https://central.example.org/eidaws/statistics/1/submit");
	ASSERT_STREQ(cfg.central.token_file, "/etc/eidastats/token");
	ASSERT_EQ(cfg.central.granularity, STATS_DAY);
	ASSERT_EQ(cfg.central.retry_initial, 5);
	ASSERT_EQ(cfg.central.retry_max, 3600);
	ASSERT_EQ(cfg.central.timeout, 90);
	ASSERT_EQ(cfg.central.compress, 1);
	ASSERT_EQ(cfg.spool_max_bytes, 512ULL << 20);
	ASSERT_STREQ(cfg.networks_url, "http://127.0.0.1:8080/networks");
	ASSERT_STREQ(cfg.networks_file, "/var/lib/eidastats/networks.json");
	cfg_fini(&cfg);
	ASSERT(cfg.log_directory == NULL && cfg.path == NULL);
	cfg_fini(&cfg);   /* Twice is harmless. */
}

TEST(cfg_defaults)
{
	cfg_t cfg;
	char err[512];

	ASSERT_OK(load_text(&cfg, "log_directory: /logs\n", err, sizeof err));
	ASSERT_STREQ(cfg.log_directory, "/logs");
	ASSERT_STREQ(cfg.file_pattern, "fdsnws-requests.log.*");
	ASSERT_STREQ(cfg.state_directory, LOCALSTATEDIR "/lib/eidastats");
	ASSERT_STREQ(cfg.since, "");
	ASSERT_EQ(cfg.settle, 60);
	ASSERT_EQ(cfg.plain_after, 21600);
	ASSERT_EQ(cfg.workers, 1);
	ASSERT_STREQ(cfg.control_socket, RUNSTATEDIR "/eidastats/control.sock");
	ASSERT(cfg.central.url == NULL);
	ASSERT(cfg.central.token_file == NULL);
	ASSERT_EQ(cfg.central.granularity, STATS_MONTH);
	ASSERT_EQ(cfg.central.retry_initial, 30);
	ASSERT_EQ(cfg.central.retry_max, 21600);
	ASSERT_EQ(cfg.central.timeout, 600);
	ASSERT_EQ(cfg.central.compress, 0);
	ASSERT_EQ(cfg.spool_max_bytes, 1ULL << 30);
	ASSERT_STREQ(cfg.networks_url, "https://www.fdsn.org/ws/networks/1/query");
	ASSERT(cfg.networks_file == NULL);
	cfg_fini(&cfg);
}

/* networks.url: none switches the registry service off; the file alone decides. */
TEST(cfg_networks_url_none)
{
	cfg_t cfg;
	char err[512];

	ASSERT_OK(load_text(&cfg, "log_directory: /l\nnetworks:\n  url: none\n  file: /n.json\n",
	                    err, sizeof err));
	ASSERT(cfg.networks_url == NULL);
	ASSERT_STREQ(cfg.networks_file, "/n.json");
	cfg_fini(&cfg);
	/* Setting the key twice is refused as for any other key. */
	ASSERT_ERR(load_text(&cfg, "log_directory: /l\nnetworks:\n  url: none\n  url: http://r/q\n",
	                     err, sizeof err), ES_ECONFIG);
}

TEST(cfg_flow_style_and_quoting)
{
	cfg_t cfg;
	char err[512];
	const char *text =
		"{log_directory: '/a b/log', central: {url: 'HTTPS://c.example/x',\n"
		" token_file: /t, granularity: month, compress: Off, retry: { initial: 1m, max: 1m }},\n"
		" spool: {max_bytes: 1GiB}, workers: \"3\"}\n";

	ASSERT_OK(load_text(&cfg, text, err, sizeof err));
	ASSERT_STREQ(cfg.log_directory, "/a b/log");
	ASSERT_STREQ(cfg.central.url, "HTTPS://c.example/x");
	ASSERT_EQ(cfg.central.granularity, STATS_MONTH);
	ASSERT_EQ(cfg.central.compress, 0);
	ASSERT_EQ(cfg.central.retry_initial, 60);
	ASSERT_EQ(cfg.central.retry_max, 60);
	ASSERT_EQ(cfg.spool_max_bytes, 1ULL << 30);
	ASSERT_EQ(cfg.workers, 3);
	cfg_fini(&cfg);
}

TEST(cfg_unknown_keys)
{
	expect_error("log_directory: /l\n\n# x\nsetle: 5\n", 4, "unknown key 'setle'");
	expect_error("log_directory: /l\ncentral:\n  url: http://x\n  retr: 5\n", 4,
	             "unknown key 'central.retr'");
	expect_error("log_directory: /l\ncentral:\n  retry:\n    maximum: 5\n", 4,
	             "unknown key 'central.retry.maximum'");
	expect_error("log_directory: /l\nspool:\n  max: 5\n", 3, "unknown key 'spool.max'");
	expect_error("log_directory: /l\nnetworks: {uri: http://x}\n", 2,
	             "unknown key 'networks.uri'");
	/* A section's own name is not a key at the top of another section. */
	expect_error("log_directory: /l\ncentral:\n  spool: {}\n", 3, "unknown key 'central.spool'");
}

TEST(cfg_bad_values)
{
	static const struct { const char *text; unsigned line; const char *want; } cases[] = {
		{ "log_directory: /l\nsettle: -5\n", 2, "key 'settle': '-5' is not a duration" },
		{ "log_directory: /l\nsettle: 5x\n", 2, "key 'settle'" },
		{ "log_directory: /l\nsettle: 5 m\n", 2, "key 'settle'" },
		{ "log_directory: /l\nsettle: 99999999999999999999\n", 2, "key 'settle'" },
		{ "log_directory: /l\nsettle: 999999999999999999d\n", 2, "key 'settle'" },
		{ "log_directory: /l\nplain_after: soon\n", 2, "key 'plain_after'" },
		{ "log_directory: /l\nworkers: 0\n", 2, "key 'workers': '0' is not an integer from 1 to 64" },
		{ "log_directory: /l\nworkers: 65\n", 2, "key 'workers'" },
		{ "log_directory: /l\nworkers: -1\n", 2, "key 'workers'" },
		{ "log_directory: /l\nworkers: 1.5\n", 2, "key 'workers'" },
		{ "log_directory: /l\nworkers: two\n", 2, "key 'workers'" },
		{ "log_directory: /l\nsince: 2023-02-29\n", 2, "key 'since': '2023-02-29' is not a date" },
		{ "log_directory: /l\nsince: 2024-13-01\n", 2, "key 'since'" },
		{ "log_directory: /l\nsince: 2024-04-31\n", 2, "key 'since'" },
		{ "log_directory: /l\nsince: 20240101\n", 2, "key 'since'" },
		{ "log_directory: /l\nsince: 2024-1-01\n", 2, "key 'since'" },
		{ "log_directory: /l\ncentral:\n  granularity: week\n", 3,
		  "key 'central.granularity': 'week' is neither 'month' nor 'day'" },
		{ "log_directory: /l\ncentral:\n  url: ftp://x/y\n  token_file: /t\n", 3,
		  "key 'central.url': 'ftp://x/y' is not an http:// or https:// URL" },
		{ "log_directory: /l\ncentral:\n  url: https://\n  token_file: /t\n", 3, "key 'central.url'" },
		{ "log_directory: /l\ncentral:\n  url: \"https://a b\"\n  token_file: /t\n", 3,
		  "key 'central.url'" },
		{ "log_directory: /l\ncentral:\n  url: central.example.org\n", 3, "key 'central.url'" },
		{ "log_directory: /l\ncentral:\n  token_file: token\n", 3,
		  "key 'central.token_file': 'token' is not an absolute path" },
		{ "log_directory: /l\ncentral:\n  retry:\n    initial: 0\n", 4,
		  "key 'central.retry.initial': must be greater than zero" },
		{ "log_directory: /l\ncentral:\n  retry:\n    max: -1h\n", 4, "key 'central.retry.max'" },
		{ "log_directory: /l\ncentral:\n  timeout: 0s\n", 3, "key 'central.timeout'" },
		{ "log_directory: /l\ncentral:\n  compress: maybe\n", 3,
		  "key 'central.compress': 'maybe' is not a boolean" },
		{ "log_directory: /l\nspool:\n  max_bytes: 12X\n", 3, "key 'spool.max_bytes': '12X' is not a size" },
		{ "log_directory: /l\nspool:\n  max_bytes: 0\n", 3, "key 'spool.max_bytes': must be greater" },
		{ "log_directory: /l\nspool:\n  max_bytes: 99999999999T\n", 3, "key 'spool.max_bytes'" },
		{ "log_directory: /l\nspool:\n  max_bytes: -1\n", 3, "key 'spool.max_bytes'" },
		{ "log_directory: /l\nnetworks:\n  url: file:///tmp/n.json\n", 3, "key 'networks.url'" },
		{ "log_directory: /l\nnetworks:\n  file: n.json\n", 3, "key 'networks.file'" },
		{ "log_directory: logs\n", 1, "key 'log_directory': 'logs' is not an absolute path" },
		{ "log_directory: /l\nstate_directory: var/lib\n", 2, "key 'state_directory'" },
		{ "log_directory: /l\ncontrol_socket: ctl.sock\n", 2, "key 'control_socket'" },
		{ "log_directory: /l\ncontrol_socket: /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", 2,
		  "key 'control_socket': socket path longer than" },
		{ "log_directory: /l\nfile_pattern: logs/*.log\n", 2, "key 'file_pattern'" },
		/* Wrong types. */
		{ "log_directory: /l\ncentral: 5\n", 2, "key 'central': is a scalar, expected a mapping" },
		{ "log_directory: /l\nspool: [1, 2]\n", 2, "key 'spool': is a list, expected a mapping" },
		{ "log_directory: /l\nsettle: [1, 2]\n", 2, "key 'settle': is a list, expected a single value" },
		{ "log_directory: {a: b}\n", 1, "key 'log_directory': is a mapping" },
		{ "log_directory: /l\n[a]: 1\n", 2, "key is a list" },
		/* Empty values and repeats. */
		{ "log_directory: /l\nsettle:\n", 2, "key 'settle': empty value" },
		{ "log_directory: /l\nsettle: ''\n", 2, "key 'settle': empty value" },
		{ "log_directory: /l\nnetworks:\n", 2, "key 'networks': is a scalar, expected a mapping" },
		{ "log_directory: /l\nsettle: 5\nsettle: 6\n", 3, "key 'settle' given twice (first on line 2)" },
		{ "log_directory: /l\ncentral: {timeout: 5}\ncentral: {compress: no}\n", 3,
		  "key 'central' given twice" },
		{ "log_directory: \"/l\\0x\"\n", 1, "key 'log_directory': value contains a NUL" },
		/* Anchors and aliases. */
		{ "log_directory: &d /l\nstate_directory: *d\n", 1, "anchors and aliases are not supported" },
		{ "log_directory: /l\nnetworks: &n {url: http://a}\n", 2, "anchors and aliases" },
		/* Cross-key rules. */
		{ "log_directory: /l\ncentral:\n  url: https://c.example/submit\n", 3,
		  "key 'central.token_file': required when central.url is set" },
		{ "log_directory: /l\ncentral:\n  retry: {initial: 1h, max: 10m}\n", 3,
		  "key 'central.retry.max': retry.max (600s) is less than retry.initial (3600s)" },
		{ "log_directory: /l\ncentral:\n  retry:\n    initial: 7h\n", 4,
		  "key 'central.retry.initial': retry.max (21600s) is less than retry.initial" },
		/* Syntax and document shape. */
		{ "log_directory: /l\nsettle: [1,\n", 2, "key 'settle': is a list" },
		{ "log_directory: /l\n\nsettle: 'open\n", 4, "YAML syntax error" },
		{ "log_directory: /l\nsettle: 5\nworkers 2\n", 4, "YAML syntax error" },
		{ "log_directory: /l\n\tsettle: 5\n", 2, "YAML syntax error" },
		{ "- log_directory: /l\n", 1, "the document is a list, expected a mapping" },
		{ "just text\n", 1, "the document is a scalar" },
		{ "log_directory: /l\n---\nsettle: 5\n", 2, "more than one YAML document" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].text, cases[i].line, cases[i].want);
}

/* Defect: durations had no upper bound and are later used in milliseconds. */
TEST(cfg_durations_bounded)
{
	static const struct { const char *text; unsigned line; const char *want; } cases[] = {
		{ "log_directory: /l\nsettle: 106751991167300d\n", 2, "key 'settle': '106751991167300d' is more than" },
		{ "log_directory: /l\nsettle: 8d\n", 2, "key 'settle': '8d' is more than 7d" },
		{ "log_directory: /l\nplain_after: 31d\n", 2, "key 'plain_after': '31d' is more than 30d" },
		{ "log_directory: /l\ncentral:\n  retry:\n    initial: 2d\n", 4,
		  "key 'central.retry.initial': '2d' is more than 1d" },
		{ "log_directory: /l\ncentral:\n  retry:\n    max: 9223372036854775807\n", 4,
		  "key 'central.retry.max'" },
		{ "log_directory: /l\ncentral:\n  timeout: 86401\n", 3, "key 'central.timeout': '86401' is more than 1d" },
	};
	cfg_t cfg;
	char err[512];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].text, cases[i].line, cases[i].want);
	/* The bounds themselves are accepted. */
	ASSERT_OK(load_text(&cfg, "log_directory: /l\nsettle: 7d\nplain_after: 30d\ncentral:\n"
	                    "  retry: {initial: 1d, max: 7d}\n  timeout: 1d\n", err, sizeof err));
	ASSERT_EQ(cfg.settle, 7 * 86400);
	ASSERT_EQ(cfg.plain_after, 30 * 86400);
	ASSERT_EQ(cfg.central.retry_max, 7 * 86400);
	cfg_fini(&cfg);
}

TEST(cfg_missing_or_empty)
{
	cfg_t cfg;
	char err[512];
	char path[4200];

	expect_error("settle: 5\n", 0, "missing required key 'log_directory'");
	expect_error("", 0, "the file is empty");
	expect_error("# only a comment\n", 0, "the file is empty");

	snprintf(path, sizeof path, "%s/absent.yaml", unit_tmpdir());
	ASSERT_ERR(cfg_load(&cfg, path, err, sizeof err), -ENOENT);
	ASSERT(strstr(err, path) != NULL && strstr(err, "cannot open") != NULL);

	/* A directory is not a configuration file. */
	ASSERT_ERR(cfg_load(&cfg, unit_tmpdir(), err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "not a regular file") != NULL);
}

TEST(cfg_file_too_large)
{
	cfg_t cfg;
	char err[512];
	size_t n = CFG_MAX_FILE + 100;
	char *text = malloc(n + 1);

	ASSERT(text != NULL);
	memcpy(text, "log_directory: /l\n", 18);
	memset(text + 18, '#', n - 18);
	text[n - 1] = '\n';
	text[n] = '\0';
	ASSERT_ERR(load_text(&cfg, text, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "larger than") != NULL);
	free(text);

	/* Just under the limit is fine. */
	n = CFG_MAX_FILE - 1;
	text = malloc(n + 1);
	ASSERT(text != NULL);
	memcpy(text, "log_directory: /l\n", 18);
	memset(text + 18, '#', n - 18);
	text[n - 1] = '\n';
	text[n] = '\0';
	ASSERT_OK(load_text(&cfg, text, err, sizeof err));
	cfg_fini(&cfg);
	free(text);
}

TEST(cfg_long_string_refused)
{
	char *text = malloc(CFG_MAX_STRING + 64);
	size_t n;

	ASSERT(text != NULL);
	n = (size_t)sprintf(text, "log_directory: /");
	memset(text + n, 'a', CFG_MAX_STRING);
	strcpy(text + n + CFG_MAX_STRING, "\n");
	expect_error(text, 1, "value longer than");
	free(text);
}

TEST(cfg_error_buffer_small)
{
	cfg_t cfg;
	char err[8];

	/* The message is cut, still terminated; a zero-length buffer is left alone. */
	ASSERT_ERR(load_text(&cfg, "settle: 5\n", err, sizeof err), ES_ECONFIG);
	ASSERT_EQ(strlen(err), 7);
	ASSERT_ERR(load_text(&cfg, "settle: 5\n", NULL, 0), ES_ECONFIG);
}

TEST(cfg_load_buffer)
{
	cfg_t cfg;
	char err[512];
	const char *text = "log_directory: /l\nsettle: 5m\n";

	ASSERT_OK(cfg_load_buffer(&cfg, "mem.yaml", text, strlen(text), err, sizeof err));
	ASSERT_EQ(cfg.settle, 300);
	ASSERT_STREQ(cfg.path, "mem.yaml");
	cfg_fini(&cfg);
	ASSERT_ERR(cfg_load_buffer(&cfg, "mem.yaml", "settle: 5\n", 10, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "mem.yaml: missing required key 'log_directory'") != NULL);
}

TEST(cfg_token)
{
	char err[512], *token = NULL;
	const char *path = write_file("token", "  0123456789abcdef0123456789abcdef\r\n\n", 0600);

	ASSERT_OK(cfg_read_token(path, &token, err, sizeof err));
	ASSERT_STREQ(token, "0123456789abcdef0123456789abcdef");
	free(token);

	path = write_file("token-ro", "secret-token", 0400);
	ASSERT_OK(cfg_read_token(path, &token, err, sizeof err));
	ASSERT_STREQ(token, "secret-token");
	free(token);
}

TEST(cfg_token_refused)
{
	static const struct { const char *text; mode_t mode; const char *want; } cases[] = {
		{ "hunter2secret", 0640, "readable by its group" },
		{ "hunter2secret", 0604, "readable by everyone" },
		{ "hunter2secret", 0644, "readable by everyone" },
		{ "", 0600, "empty" },
		{ " \n\t\n", 0600, "empty" },
		{ "hunter2 secret", 0600, "space or control character" },
		{ "hunter2\x01secret", 0600, "space or control character" },
		{ "hunter2\nsecret", 0600, "space or control character" },
	};
	char err[512], *token = NULL, path2[4200];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *path = write_file("token", cases[i].text, cases[i].mode);
		ASSERT_ERR(cfg_read_token(path, &token, err, sizeof err), ES_ECONFIG);
		if (!strstr(err, cases[i].want) || !strstr(err, path))
			unit_fail(__FILE__, __LINE__, "case %zu: message '%s' lacks '%s'", i, err,
			          cases[i].want);
		/* The secret never shows in a message. */
		ASSERT(strstr(err, "hunter2") == NULL && strstr(err, "secret") == NULL);
		ASSERT(token == NULL);
	}

	/* Too large. */
	{
		char *big = malloc(5000);
		ASSERT(big != NULL);
		memset(big, 'a', 4999);
		big[4999] = '\0';
		const char *path = write_file("token", big, 0600);
		ASSERT_ERR(cfg_read_token(path, &token, err, sizeof err), ES_ECONFIG);
		ASSERT(strstr(err, "larger than") != NULL);
		free(big);
	}
	/* Not a regular file, and missing. */
	ASSERT_ERR(cfg_read_token(unit_tmpdir(), &token, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "not a regular file") != NULL);
	ASSERT_ERR(cfg_read_token("/dev/null", &token, err, sizeof err), ES_ECONFIG);
	snprintf(path2, sizeof path2, "%s/absent", unit_tmpdir());
	ASSERT_ERR(cfg_read_token(path2, &token, err, sizeof err), -ENOENT);
	ASSERT(strstr(err, path2) != NULL);
	/* A FIFO must be refused without blocking on open or read. */
	snprintf(path2, sizeof path2, "%s/fifo", unit_tmpdir());
	ASSERT(mkfifo(path2, 0600) == 0);
	ASSERT_ERR(cfg_read_token(path2, &token, err, sizeof err), ES_ECONFIG);
	ASSERT(token == NULL);
}

/*
 * The documented sample (etc/eidastats.yaml) must load, and the defaults it
 * states must be the defaults of the code.
 */
TEST(cfg_sample_matches_defaults)
{
	cfg_t sample, minimal;
	char err[512];
	const char *path = unit_data("../../etc/eidastats.yaml");
	FILE *f;
	char line[1024];
	static const char *const documented[] = {
		"log_directory:", "file_pattern:", "state_directory:", "since:", "settle:",
		"plain_after:", "workers:", "control_socket:", "central:", "url:", "token_file:",
		"granularity:", "retry:", "initial:", "max:", "timeout:", "compress:", "spool:",
		"max_bytes:", "networks:", "file:",
	};
	int seen[sizeof documented / sizeof documented[0]] = { 0 };

	if (cfg_load(&sample, path, err, sizeof err) != 0)
		unit_fail(__FILE__, __LINE__, "sample does not load: %s", err);
	ASSERT_OK(load_text(&minimal, "log_directory: /logs\n", err, sizeof err));
	ASSERT_STREQ(sample.file_pattern, minimal.file_pattern);
	ASSERT_STREQ(sample.since, minimal.since);
	ASSERT_EQ(sample.settle, minimal.settle);
	ASSERT_EQ(sample.plain_after, minimal.plain_after);
	ASSERT_EQ(sample.workers, minimal.workers);
	ASSERT_EQ(sample.central.granularity, minimal.central.granularity);
	ASSERT_EQ(sample.central.retry_initial, minimal.central.retry_initial);
	ASSERT_EQ(sample.central.retry_max, minimal.central.retry_max);
	ASSERT_EQ(sample.central.timeout, minimal.central.timeout);
	ASSERT_EQ(sample.central.compress, minimal.central.compress);
	ASSERT(sample.spool_max_bytes == minimal.spool_max_bytes);
	ASSERT_STREQ(sample.networks_url, minimal.networks_url);
	ASSERT(sample.central.url == NULL && sample.networks_file == NULL);
	cfg_fini(&sample);
	cfg_fini(&minimal);

	/* Every key is named in the sample, set or shown commented out. */
	f = fopen(path, "r");
	ASSERT(f != NULL);
	while (fgets(line, sizeof line, f)) {
		const char *p = line;
		while (*p == ' ' || *p == '#')
			p++;
		for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
			if (strncmp(p, documented[i], strlen(documented[i])) == 0)
				seen[i] = 1;
	}
	fclose(f);
	for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
		if (!seen[i])
			unit_fail(__FILE__, __LINE__, "the sample does not document '%s'", documented[i]);
}

/* The sample with its commented-out central and networks settings switched on still loads. */
TEST(cfg_sample_uncommented)
{
	cfg_t cfg;
	char err[512], line[1024], out[4200];
	FILE *in = fopen(unit_data("../../etc/eidastats.yaml"), "r"), *o;

	ASSERT(in != NULL);
	snprintf(out, sizeof out, "%s/full.yaml", unit_tmpdir());
	o = fopen(out, "w");
	ASSERT(o != NULL);
	while (fgets(line, sizeof line, in)) {
		/* "#  url: ..." style lines (a '#' then spaces then a key) are settings. */
		if (line[0] == '#' || (line[0] == ' ' && strchr(line, '#'))) {
			char *hash = strchr(line, '#');
			char *p = hash + 1;
			size_t ind = (size_t)(hash - line);
			if (*p == ' ')
				p++;
			if ((strncmp(p, "url:", 4) == 0 || strncmp(p, "token_file:", 11) == 0 ||
			     strncmp(p, "file:", 5) == 0) && ind + strlen(p) < sizeof line) {
				fprintf(o, "%*s%s", (int)ind, "", p);
				continue;
			}
		}
		fputs(line, o);
	}
	fclose(in);
	fclose(o);
	if (cfg_load(&cfg, out, err, sizeof err) != 0)
		unit_fail(__FILE__, __LINE__, "uncommented sample does not load: %s", err);
	ASSERT(cfg.central.url != NULL && cfg.central.token_file != NULL);
	ASSERT(cfg.networks_file != NULL);
	cfg_fini(&cfg);
}
