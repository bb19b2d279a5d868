#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingestd/settings.h"
#include "submit.h"
#include "unit.h"

static int load(struct ingest_config *c, const char *text, char *err, size_t errlen)
{
	ingest_config_init(c);
	return ingest_config_load_buffer(c, "ingestd.yaml", text, strlen(text), err, errlen);
}

TEST(ingestd_settings_defaults)
{
	struct ingest_config c;
	char err[256];

	ASSERT_OK(load(&c, "", err, sizeof err));
	ASSERT(c.db == NULL && c.read_db == NULL);
	ASSERT_STREQ(c.listen, INGEST_DEFAULT_LISTEN);
	ASSERT_STREQ(c.prefix, INGEST_DEFAULT_PREFIX);
	ASSERT_EQ(c.workers, INGEST_DEFAULT_WORKERS);
	ASSERT_EQ(c.max_body, SUBMIT_DEFAULT_MAX_BODY);
	ASSERT_EQ(c.max_decompressed, SUBMIT_DEFAULT_MAX_DECOMPRESSED);
	ASSERT_EQ(c.max_stats, SUBMIT_DEFAULT_MAX_STATS);
	ASSERT_EQ(c.max_in_flight, INGEST_DEFAULT_MAX_IN_FLIGHT);
	ASSERT_EQ(c.timeout, INGEST_DEFAULT_TIMEOUT);
	ASSERT_EQ(c.max_connections, INGEST_DEFAULT_MAX_CONNECTIONS);
	ASSERT(c.access_log);
	ASSERT(c.eas_keyring == NULL && c.eas == NULL);
	ASSERT_EQ(c.max_token, 64 * 1024);
	ASSERT_EQ(c.query_timeout, INGEST_DEFAULT_QUERY_TIMEOUT);
	ASSERT(c.runtime_dir != NULL && c.runtime_dir[0] == '/');
	/* No database is a startup error; read_db falls back to db. */
	ASSERT_ERR(ingest_config_check(&c, err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "no database") != NULL);
	ASSERT_OK(ingest_config_set(&c, "db", "dbname=x", err, sizeof err));
	ASSERT_OK(ingest_config_check(&c, err, sizeof err));
	ASSERT_STREQ(ingest_config_read_db(&c), "dbname=x");
	/* The defaults fit one largest gzip request in the budget. */
	ASSERT(ingest_config_warning(&c, err, sizeof err) == NULL);
	ingest_config_fini(&c);
}

TEST(ingestd_settings_every_key)
{
	struct ingest_config c;
	char err[256];
	const char *text =
		"db: \"dbname=w\"\nread_db: \"host=replica dbname=w\"\nlisten: \"[::1]:0\"\n"
		"prefix: /stats/v1/\nworkers: 3\nmax_body: 1MiB\nmax_decompressed: 2MiB\n"
		"max_stats: 50\nmax_in_flight: 64MiB\ntimeout: 5m\nmax_connections: 16\n"
		"access_log: off\neas_keyring: /etc/eidastats/eas\nruntime_dir: /tmp/rt\n"
		"max_token: 8KiB\nquery_timeout: 2m\nreport_dir: /srv/reports\n"
		"metrics_allow: \"10.0.0.0/8, 2001:db8::1\"\n";

	ASSERT_OK(load(&c, text, err, sizeof err));
	ASSERT_STREQ(c.report_dir, "/srv/reports");
	ASSERT_EQ(c.metrics_allow.n, 2);
	ASSERT(peer_list_has(&c.metrics_allow, "10.9.8.7"));
	ASSERT(!peer_list_has(&c.metrics_allow, "127.0.0.1"));
	ASSERT_STREQ(c.eas_keyring, "/etc/eidastats/eas");
	ASSERT_STREQ(c.runtime_dir, "/tmp/rt");
	ASSERT_EQ(c.max_token, 8192);
	ASSERT_EQ(c.query_timeout, 120);
	/* Loading never imports: that is ingest_config_open_keyring()'s job. */
	ASSERT(c.eas == NULL);
	ASSERT_STREQ(c.db, "dbname=w");
	ASSERT_STREQ(ingest_config_read_db(&c), "host=replica dbname=w");
	ASSERT_STREQ(c.listen, "[::1]:0");
	ASSERT_STREQ(c.prefix, "/stats/v1");
	ASSERT_EQ(c.workers, 3);
	ASSERT_EQ(c.max_body, 1 << 20);
	ASSERT_EQ(c.max_decompressed, 2 << 20);
	ASSERT_EQ(c.max_stats, 50);
	ASSERT_EQ(c.max_in_flight, 64 << 20);
	ASSERT_EQ(c.timeout, 300);
	ASSERT_EQ(c.max_connections, 16);
	ASSERT(!c.access_log);
	ingest_config_fini(&c);
}

TEST(ingestd_settings_bad_values)
{
	static const struct { const char *text; const char *want; } cases[] = {
		{ "workers: 0\n", "ingestd.yaml:1: workers: not a number from 1 to 256" },
		{ "workers: 257\n", "workers: not a number" },
		{ "timeout: 0\n", "timeout: not a number of seconds" },
		{ "timeout: 2d\n", "timeout: not a number of seconds" },
		{ "timeout: 86401\n", "timeout: not a number of seconds" },
		{ "timeout: 9223372036854775807\n", "timeout:" },
		{ "max_body: 0\n", "max_body: not a size" },
		{ "max_body: 12parsecs\n", "max_body: not a size" },
		{ "max_decompressed: 2TiB\n", "max_decompressed: more than 1TiB" },
		{ "max_in_flight: -1\n", "max_in_flight: not a size" },
		{ "max_stats: -3\n", "max_stats: not a positive number" },
		{ "max_connections: 1x\n", "max_connections: not a number" },
		{ "listen: nonsense\n", "listen: not ADDR:PORT" },
		{ "prefix: api\n", "prefix: must start with '/'" },
		{ "db: ''\n", "db: empty" },
		{ "read_db: ''\n", "read_db: empty" },
		{ "access_log: maybe\n", "access_log: not a boolean" },
		{ "db: x\ncolour: red\n", "ingestd.yaml:2: unknown key 'colour'" },
		{ "db: x\ndb: y\n", "ingestd.yaml:2: key 'db' given twice (first on line 1)" },
		{ "db: x\nlimits:\n  max_body: 1MiB\n", "ingestd.yaml:3: 'limits': nested mappings are not settings" },
		{ "db: [a, b]\n", "ingestd.yaml:1: 'db': a list is not a setting" },
		{ "db: \"x\n", "ingestd.yaml:" },
	};
	struct ingest_config c;
	char err[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = load(&c, cases[i].text, err, sizeof err);
		if (rc != ES_ECONFIG || !strstr(err, cases[i].want))
			unit_fail(__FILE__, __LINE__, "'%s': rc %d, '%s' lacks '%s'", cases[i].text, rc, err,
			          cases[i].want);
		ingest_config_fini(&c);
	}
	/* The command line's spelling of the same errors. */
	ingest_config_init(&c);
	ASSERT_ERR(ingest_config_set(&c, "workers", "many", err, sizeof err), ES_ECONFIG);
	ASSERT_STREQ(err, "workers: not a number from 1 to 256");
	ASSERT_ERR(ingest_config_set(&c, "colour", "red", err, sizeof err), ES_ECONFIG);
	ASSERT_STREQ(err, "unknown key 'colour'");
	ingest_config_fini(&c);
}

TEST(ingestd_settings_file)
{
	struct ingest_config c;
	char err[512];
	const char *path = unit_tmp("ingestd.yaml");

	unit_write(path, "db: x\nmax_in_flight: 1KiB\n", 26);
	ingest_config_init(&c);
	ASSERT_OK(ingest_config_load(&c, path, err, sizeof err));
	ASSERT_EQ(c.max_in_flight, 1024);
	/* A budget below one largest request runs, with a warning. */
	ASSERT(ingest_config_warning(&c, err, sizeof err) != NULL);
	ASSERT(strstr(err, "max_in_flight") != NULL);
	ingest_config_fini(&c);
	ingest_config_init(&c);
	ASSERT_ERR(ingest_config_load(&c, unit_tmp("absent.yaml"), err, sizeof err), -ENOENT);
	ASSERT(strstr(err, "absent.yaml: No such file or directory") != NULL);
	ingest_config_fini(&c);
}

TEST(ingestd_settings_reload)
{
	struct ingest_config running, next;
	char err[256], note[256];

	ASSERT_OK(load(&running, "db: a\nlisten: 127.0.0.1:1\nworkers: 2\nmax_body: 1MiB\n", err,
	               sizeof err));
	/* Limits, timeouts and logging change live: nothing to restart. */
	ASSERT_OK(load(&next, "db: a\nlisten: 127.0.0.1:1\nworkers: 2\nmax_body: 2MiB\ntimeout: 9\n"
	               "max_stats: 7\nmax_decompressed: 3MiB\nmax_in_flight: 9MiB\naccess_log: no\n",
	               err, sizeof err));
	ASSERT_EQ(ingest_config_reload(&running, &next, note, sizeof note), 0);
	ASSERT_STREQ(note, "");
	ASSERT_EQ(next.max_body, 2 << 20);
	ASSERT_EQ(next.timeout, 9);
	ASSERT_EQ(next.max_stats, 7);
	ASSERT_EQ(next.max_decompressed, 3 << 20);
	ASSERT_EQ(next.max_in_flight, 9 << 20);
	ASSERT(!next.access_log);
	ingest_config_fini(&next);

	/* listen, db, read_db, workers, prefix and max_connections keep their running values. */
	ASSERT_OK(load(&next, "db: b\nread_db: r\nlisten: 127.0.0.1:2\nworkers: 4\nprefix: /x\n"
	               "max_connections: 3\nmax_body: 2MiB\n", err, sizeof err));
	ASSERT_EQ(ingest_config_reload(&running, &next, note, sizeof note), 6);
	ASSERT_STREQ(note, "listen, db, read_db, workers, prefix, max_connections changed: restart "
	             "the service to apply them");
	ASSERT_STREQ(next.db, "a");
	ASSERT(next.read_db == NULL);
	ASSERT_STREQ(next.listen, "127.0.0.1:1");
	ASSERT_EQ(next.workers, 2);
	ASSERT_STREQ(next.prefix, INGEST_DEFAULT_PREFIX);
	ASSERT_EQ(next.max_connections, INGEST_DEFAULT_MAX_CONNECTIONS);
	ASSERT_EQ(next.max_body, 2 << 20);
	ingest_config_fini(&next);

	/* read_db spelled out as the same database as db is no change. */
	ASSERT_OK(load(&next, "db: a\nlisten: 127.0.0.1:1\nworkers: 2\nread_db: a\n", err, sizeof err));
	ASSERT_EQ(ingest_config_reload(&running, &next, note, sizeof note), 0);
	ingest_config_fini(&next);
	ASSERT_OK(load(&next, "db: a\nlisten: 127.0.0.1:1\nworkers: 3\n", err, sizeof err));
	ASSERT_EQ(ingest_config_reload(&running, &next, note, sizeof note), 1);
	ASSERT_STREQ(note, "workers changed: restart the service to apply it");
	ingest_config_fini(&next);
	ingest_config_fini(&running);
}

struct reader_arg {
	struct ingest_live *live;
	int rounds;
	int bad;
};

/* Each snapshot is whole: max_body and max_stats always belong together. */
static void *reader(void *p)
{
	struct reader_arg *a = p;

	for (int i = 0; i < a->rounds; i++) {
		const struct ingest_config *c = ingest_live_acquire(a->live);
		if (c->max_stats != c->max_body || strcmp(c->db, "x") != 0)
			a->bad++;
		ingest_live_release(a->live, c);
	}
	return NULL;
}

TEST(ingestd_settings_live_swap)
{
	struct ingest_config c;
	struct ingest_live *live;
	struct reader_arg args[2];
	pthread_t th[2];
	const struct ingest_config *held;
	char err[128];

	ingest_config_init(&c);
	ASSERT_OK(ingest_config_set(&c, "db", "x", err, sizeof err));
	c.max_body = c.max_stats = 1;
	live = ingest_live_new(&c);
	ASSERT(c.db == NULL);
	/* A snapshot held across a replacement stays valid and unchanged. */
	held = ingest_live_acquire(live);
	for (int t = 0; t < 2; t++) {
		args[t] = (struct reader_arg){ live, 20000, 0 };
		ASSERT(pthread_create(&th[t], NULL, reader, &args[t]) == 0);
	}
	for (size_t i = 2; i < 2000; i++) {
		ingest_config_init(&c);
		ASSERT_OK(ingest_config_set(&c, "db", "x", err, sizeof err));
		c.max_body = c.max_stats = i;
		ingest_live_replace(live, &c);
	}
	for (int t = 0; t < 2; t++) {
		ASSERT(pthread_join(th[t], NULL) == 0);
		ASSERT_EQ(args[t].bad, 0);
	}
	ASSERT_EQ(held->max_body, 1);
	ASSERT_STREQ(held->db, "x");
	ingest_live_release(live, held);
	held = ingest_live_acquire(live);
	ASSERT_EQ(held->max_body, 1999);
	ingest_live_release(live, held);
	ingest_live_free(live);
}

/* etc/ingestd.yaml loads, documents every key (read_db commented out) and holds the defaults. */
TEST(ingestd_settings_sample)
{
	static const char *const documented[] = {
		"db:", "read_db:", "listen:", "prefix:", "workers:", "max_body:", "max_decompressed:",
		"max_stats:", "max_in_flight:", "timeout:", "max_connections:", "access_log:",
		"eas_keyring:", "runtime_dir:", "max_token:", "query_timeout:", "report_dir:",
		"metrics_allow:", "header_timeout:",
		"max_connections_per_ip:", "max_queries_per_client:", "trusted_proxies:",
		"cache_max_age:",
	};
	struct ingest_config sample, defaults;
	char err[512];
	const char *path = unit_data("../../etc/ingestd.yaml");
	char *text = unit_slurp(path, NULL);

	for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++)
		if (!strstr(text, documented[i]))
			unit_fail(__FILE__, __LINE__, "etc/ingestd.yaml lacks '%s'", documented[i]);
	free(text);
	ingest_config_init(&sample);
	if (ingest_config_load(&sample, path, err, sizeof err) != 0)
		unit_fail(__FILE__, __LINE__, "sample does not load: %s", err);
	ingest_config_init(&defaults);
	ASSERT(sample.db != NULL && sample.read_db == NULL);
	ASSERT_STREQ(sample.listen, defaults.listen);
	ASSERT_STREQ(sample.prefix, defaults.prefix);
	ASSERT_EQ(sample.workers, defaults.workers);
	ASSERT_EQ(sample.max_body, defaults.max_body);
	ASSERT_EQ(sample.max_decompressed, defaults.max_decompressed);
	ASSERT_EQ(sample.max_stats, defaults.max_stats);
	ASSERT_EQ(sample.max_in_flight, defaults.max_in_flight);
	ASSERT_EQ(sample.timeout, defaults.timeout);
	ASSERT_EQ(sample.max_connections, defaults.max_connections);
	ASSERT_EQ(sample.access_log, defaults.access_log);
	ASSERT(sample.eas_keyring == NULL);
	ASSERT_EQ(sample.max_token, defaults.max_token);
	ASSERT_EQ(sample.query_timeout, defaults.query_timeout);
	ASSERT(sample.report_dir == NULL);
	ASSERT_MEMEQ(&sample.metrics_allow, &defaults.metrics_allow, sizeof defaults.metrics_allow);
	ASSERT_EQ(sample.header_timeout, defaults.header_timeout);
	ASSERT_EQ(sample.max_connections_per_ip, defaults.max_connections_per_ip);
	ASSERT_EQ(sample.max_queries_per_client, defaults.max_queries_per_client);
	ASSERT_EQ(sample.cache_max_age, defaults.cache_max_age);
	ASSERT_EQ(sample.proxies.n, 0);
	ingest_config_fini(&sample);
	ingest_config_fini(&defaults);
}

/* The query API's settings: bad values refused with the key; a keyring without keys refused at start. */
TEST(ingestd_settings_query_keys)
{
	struct ingest_config c;
	char err[512], dir[] = "/tmp/es-settings-XXXXXX", ring[600], rt[600];

	ingest_config_init(&c);
	ASSERT_ERR(ingest_config_set(&c, "eas_keyring", "relative/dir", err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "eas_keyring: not an absolute directory path") != NULL);
	ASSERT_ERR(ingest_config_set(&c, "runtime_dir", "", err, sizeof err), ES_ECONFIG);
	ASSERT_ERR(ingest_config_set(&c, "max_token", "0", err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "max_token:") != NULL);
	ASSERT_ERR(ingest_config_set(&c, "query_timeout", "0", err, sizeof err), ES_ECONFIG);
	ASSERT_ERR(ingest_config_set(&c, "query_timeout", "2d", err, sizeof err), ES_ECONFIG);
	ASSERT_ERR(ingest_config_set(&c, "report_dir", "reports", err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "report_dir: not an absolute directory path") != NULL);
	ASSERT_ERR(ingest_config_set(&c, "metrics_allow", "10.0.0.0/40", err, sizeof err), ES_ECONFIG);
	ASSERT(strstr(err, "metrics_allow: '10.0.0.0/40'") != NULL);
	/* Empty: reports off, metrics for nobody. */
	ASSERT_OK(ingest_config_set(&c, "report_dir", "/r", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "report_dir", "", err, sizeof err));
	ASSERT(c.report_dir == NULL);
	ASSERT_OK(ingest_config_set(&c, "metrics_allow", "", err, sizeof err));
	ASSERT_EQ(c.metrics_allow.n, 0);
	/* An empty eas_keyring turns restricted queries off again. */
	ASSERT_OK(ingest_config_set(&c, "eas_keyring", "/x", err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "eas_keyring", "", err, sizeof err));
	ASSERT(c.eas_keyring == NULL);
	/* Without a keyring, opening it does nothing. */
	ASSERT_OK(ingest_config_open_keyring(&c, 0, err, sizeof err));
	ASSERT(c.eas == NULL && c.eas_home == NULL);
	/* A keyring directory without keys stops the start with a sentence naming it. */
	ASSERT(mkdtemp(dir) != NULL);
	snprintf(ring, sizeof ring, "%s/ring", dir);
	snprintf(rt, sizeof rt, "%s/run", dir);
	ASSERT_OK(mkdir(ring, 0700));
	ASSERT_OK(ingest_config_set(&c, "eas_keyring", ring, err, sizeof err));
	ASSERT_OK(ingest_config_set(&c, "runtime_dir", rt, err, sizeof err));
	ASSERT(ingest_config_open_keyring(&c, 0, err, sizeof err) < 0);
	ASSERT(strstr(err, "eas_keyring") != NULL);
	ingest_config_fini(&c);
	/* fini removed the private home; only the runtime directory itself is left. */
	ASSERT_OK(rmdir(rt));
	ASSERT_OK(rmdir(ring));
	ASSERT_OK(rmdir(dir));
}

/* The protection settings: defaults, values, refusals naming the key, restart-only ones. */
TEST(ingestd_settings_protection)
{
	struct ingest_config c, next;
	char err[256], note[256];

	ASSERT_OK(load(&c, "", err, sizeof err));
	ASSERT_EQ(c.header_timeout, INGEST_DEFAULT_HEADER_TIMEOUT);
	ASSERT_EQ(c.max_connections_per_ip, INGEST_DEFAULT_MAX_CONNECTIONS_PER_IP);
	ASSERT_EQ(c.max_queries_per_client, INGEST_DEFAULT_MAX_QUERIES_PER_CLIENT);
	ASSERT_EQ(c.cache_max_age, INGEST_DEFAULT_CACHE_MAX_AGE);
	ASSERT(c.trusted_proxies == NULL && c.proxies.n == 0);
	ingest_config_fini(&c);

	ASSERT_OK(load(&c, "header_timeout: 2s\nmax_connections_per_ip: 0\n"
	               "max_queries_per_client: 1\ntrusted_proxies: 127.0.0.3, 10.0.0.0/8\n"
	               "cache_max_age: 1h\n", err, sizeof err));
	ASSERT_EQ(c.header_timeout, 2);
	ASSERT_EQ(c.max_connections_per_ip, 0);
	ASSERT_EQ(c.max_queries_per_client, 1);
	ASSERT_EQ(c.cache_max_age, 3600);
	ASSERT_EQ(c.proxies.n, 2);
	ASSERT(peer_list_has(&c.proxies, "10.9.8.7"));
	/* A copy keeps the list (a reload snapshot). */
	ingest_config_copy(&next, &c);
	ASSERT_STREQ(next.trusted_proxies, "127.0.0.3, 10.0.0.0/8");
	ASSERT_EQ(next.proxies.n, 2);
	ASSERT_OK(ingest_config_set(&next, "header_timeout", "5", err, sizeof err));
	ASSERT_OK(ingest_config_set(&next, "max_connections_per_ip", "9", err, sizeof err));
	ASSERT_OK(ingest_config_set(&next, "max_queries_per_client", "7", err, sizeof err));
	ASSERT_EQ(ingest_config_reload(&c, &next, note, sizeof note), 2);
	ASSERT(strstr(note, "header_timeout, max_connections_per_ip changed") != NULL);
	ASSERT_EQ(next.header_timeout, 2);
	ASSERT_EQ(next.max_connections_per_ip, 0);
	ASSERT_EQ(next.max_queries_per_client, 7);
	ingest_config_fini(&next);
	ingest_config_fini(&c);

	static const struct { const char *text, *why; } bad[] = {
		{ "header_timeout: 0\n", "header_timeout: not a number of seconds" },
		{ "max_connections_per_ip: -1\n", "max_connections_per_ip: not a number from 0" },
		{ "max_queries_per_client: 0\n", "max_queries_per_client: not a number from 1" },
		{ "trusted_proxies: proxy.example\n", "trusted_proxies: 'proxy.example' is not an address" },
		{ "trusted_proxies: 10.0.0.0/40\n", "trusted_proxies: '10.0.0.0/40' is not" },
		{ "cache_max_age: soon\n", "cache_max_age: not a number of seconds" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASSERT_ERR(load(&c, bad[i].text, err, sizeof err), ES_ECONFIG);
		if (!strstr(err, bad[i].why))
			unit_fail(__FILE__, __LINE__, "'%s': error '%s'", bad[i].text, err);
		ingest_config_fini(&c);
	}
}
