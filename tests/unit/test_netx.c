#include "config.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netx.h"
#include "unit.h"

static void write_text(const char *path, const char *text)
{
	unit_write(path, text, strlen(text));
}

static int extend(netx_t *nx, const char *code, const char *date, char out[NETX_CODE_MAX])
{
	memset(out, '?', NETX_CODE_MAX);
	return netx_extend(nx, code, strlen(code), date, strlen(date), out);
}

/* Asserts that code at date becomes want (or is refused when want is NULL). */
static void expect_at(int line, netx_t *nx, const char *code, const char *date, const char *want)
{
	char out[NETX_CODE_MAX];
	int rc = extend(nx, code, date, out);
	if (!want && rc != ES_EREFUSED)
		unit_fail(__FILE__, line, "%s at \"%s\": %d (%s), want refusal", code, date, rc,
		          es_strerror(rc));
	if (want && (rc != 0 || strcmp(out, want) != 0))
		unit_fail(__FILE__, line, "%s at \"%s\": %d (%s) \"%.16s\", want %s", code, date, rc,
		          es_strerror(rc), rc ? "" : out, want);
}

#define EXPECT(nx, code, date, want) expect_at(__LINE__, (nx), (code), (date), (want))

TEST(netx_is_temporary_pattern)
{
	const char *yes[] = { "7C", "XY", "Y5", "Z3", "00", "9Z", "XA" };
	const char *no[] = { "G", "GE", "FR", "XYZ", "1a", "x1", "Z32015", "", "A1", "#1", "7c" };
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		ASSERT(netx_is_temporary(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		ASSERT(!netx_is_temporary(no[i], strlen(no[i])));
	/* Length, not NUL, decides. */
	ASSERT(netx_is_temporary("7CX", 2));
	ASSERT(!netx_is_temporary("7C", 1));
}

TEST(netx_fdsn_fixture_cases)
{
	const char *path = unit_data("fdsn-temporary-networks.json");
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .file = path }));
	cJSON *root = unit_json(path);
	const cJSON *cases = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "cases_against_this_file"), "cases");
	ASSERT(cJSON_IsArray(cases));
	int n = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cases) {
		const char *net = cJSON_GetObjectItem(c, "net")->valuestring;
		const char *date = cJSON_GetObjectItem(c, "date")->valuestring;
		const cJSON *want = cJSON_GetObjectItem(c, "expect");
		if (want)
			EXPECT(nx, net, date, want->valuestring);
		else
			EXPECT(nx, net, date, (const char *)NULL);
		n++;
	}
	ASSERT(n >= 17);
	/* The permanent code of the cases needing the live registry needs no registry. */
	EXPECT(nx, "FR", "2013-01-01", "FR");
	cJSON_Delete(root);
	netx_fini(nx);
}

TEST(netx_edge_cases_readme)
{
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .file = unit_data("edge-cases/networks.json") }));
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	EXPECT(nx, "7C", "2009-05-01", "7C2009");
	EXPECT(nx, "7C", "2013-05-01", NULL);
	EXPECT(nx, "7C", "2019-13-01", NULL);
	EXPECT(nx, "FR", "garbage", "FR");
	EXPECT(nx, "Z3", "2018-03-31", "Z32015");
	EXPECT(nx, "Z3", "2018-04-01", NULL);
	EXPECT(nx, "Z3", "2019-09-01", "Z32019");
	EXPECT(nx, "XYZ", "2024-10-14", "XYZ");
	EXPECT(nx, "1a", "2024-10-14", "1a");
	EXPECT(nx, "QQ", "2024-10-14", "QQ");
	EXPECT(nx, "9Z", "2024-10-14", NULL);
	EXPECT(nx, "G", "2013-01-01", "G");
	EXPECT(nx, "GE", "2013-01-01", "GE");
	/* quirks.log line 4: a bare year. */
	EXPECT(nx, "7C", "2019", "7C2018");
	netx_fini(nx);
}

static int32_t ymd_of(int y, int m, int d)
{
	return y * 10000 + m * 100 + d;
}

/* A nets.json bound: a year (Jan 1 for a start, Dec 31 for an end) or "YYYY-MM-DD". */
static int32_t nets_bound(const cJSON *v, int is_end, char year[16])
{
	if (cJSON_IsNumber(v)) {
		snprintf(year, 16, "%04d", v->valueint);
		return is_end ? ymd_of(v->valueint, 12, 31) : ymd_of(v->valueint, 1, 1);
	}
	int y, m, d;
	ASSERT(cJSON_IsString(v) && sscanf(v->valuestring, "%d-%d-%d", &y, &m, &d) == 3);
	memcpy(year, v->valuestring, 4);
	year[4] = 0;
	return ymd_of(y, m, d);
}

/* Every golden set's networks.json gives, day by day, what its nets.json gives. */
TEST(netx_networks_json_agree_with_nets_json)
{
	const char *sets[] = { "edge-cases", "hll-edges", "null-country", "synthetic-small",
	                       "upstream-crashes", "upstream-sample" };
	for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
		char p1[256], p2[256];
		snprintf(p1, sizeof p1, "%s/networks.json", sets[s]);
		snprintf(p2, sizeof p2, "%s/nets.json", sets[s]);
		netx_t *nx;
		ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .file = unit_data(p1) }));
		cJSON *nets = unit_json(unit_data(p2));
		long checked = 0, extended = 0;
		const cJSON *code;
		cJSON_ArrayForEach(code, nets) {
			for (time_t t = 1041379200; t < 1924992000; t += 86400) { /* 2003 .. 2030 */
				struct tm tm;
				gmtime_r(&t, &tm);
				char date[48], want[NETX_CODE_MAX + 16] = "";
				snprintf(date, sizeof date, "%04d-%02d-%02d", tm.tm_year + 1900,
				         tm.tm_mon + 1, tm.tm_mday);
				int32_t day = ymd_of(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
				const cJSON *dep;
				cJSON_ArrayForEach(dep, code) {
					char y1[16], y2[16];
					int32_t a = nets_bound(cJSON_GetArrayItem(dep, 0), 0, y1);
					int32_t b = nets_bound(cJSON_GetArrayItem(dep, 1), 1, y2);
					if (a <= day && day <= b) {
						snprintf(want, sizeof want, "%s%s", code->string, y1);
						break;
					}
				}
				EXPECT(nx, code->string, date, want[0] ? want : NULL);
				checked++;
				extended += want[0] != 0;
			}
		}
		ASSERT(checked > 50000);
		ASSERT(extended > 10000);
		cJSON_Delete(nets);
		netx_fini(nx);
	}
}

TEST(netx_date_leniency)
{
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .file = unit_data("edge-cases/networks.json") }));
	EXPECT(nx, "7C", "2019-5-1", "7C2018");
	EXPECT(nx, "7C", "2019-1-01", "7C2018");
	EXPECT(nx, "7C", "2019-05- 1", "7C2018");
	EXPECT(nx, "7C", "2019-12-31", "7C2018");
	EXPECT(nx, "7C", "2020-02-29", "7C2018");
	EXPECT(nx, "7C", "2019-02-29", NULL);
	EXPECT(nx, "7C", "2019-04-31", NULL);
	EXPECT(nx, "7C", "2019-01-32", NULL);
	EXPECT(nx, "7C", "2019-00-10", NULL);
	EXPECT(nx, "7C", "2019-1-1T0", NULL);
	EXPECT(nx, "7C", "2019/01/01", NULL);
	EXPECT(nx, "7C", " 2019-01-01", NULL);
	EXPECT(nx, "7C", "2019-01-1 ", NULL);
	EXPECT(nx, "7C", "19-01-01", NULL);
	EXPECT(nx, "7C", "201", NULL);
	EXPECT(nx, "7C", "", NULL);
	EXPECT(nx, "7C", "0000", NULL);
	EXPECT(nx, "7C", "20a9", NULL);
	EXPECT(nx, "7C", "2014-", NULL);
	/* Only the first 10 characters count: a whole trace start works. */
	EXPECT(nx, "7C", "2019-05-01T00:00:00.0000Z", "7C2018");
	EXPECT(nx, "7C", "2010-05-01T00:00:00.0000Z", "7C2009");
	/* Year 2011 ends a deployment; the bare year 2012 is Jan 1, outside both. */
	EXPECT(nx, "7C", "2011", "7C2009");
	EXPECT(nx, "7C", "2012", NULL);
	/* A non-temporary code is copied whatever its length up to the limit. */
	char out[NETX_CODE_MAX];
	ASSERT_ERR(netx_extend(nx, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, "2019", 4, out), ES_ELIMIT);
	ASSERT_OK(netx_extend(nx, "ABCDEFGHIJKLMNO", 15, "2019", 4, out));
	ASSERT_STREQ(out, "ABCDEFGHIJKLMNO");
	ASSERT_OK(netx_extend(nx, "", 0, "", 0, out));
	ASSERT_STREQ(out, "");
	netx_fini(nx);
}

TEST(netx_bad_registry_files)
{
	const char *bad[] = {
		"not json",
		"[]",
		"{\"networks\": {}}",
		"{\"nets\": []}",
		"{\"networks\": [42]}",
		"{\"networks\": [{\"start_date\": \"2018-01-01\", \"end_date\": null}]}",
		"{\"networks\": [{\"fdsn_code\": 7, \"start_date\": \"2018-01-01\", \"end_date\": null}]}",
		"{\"networks\": [{\"fdsn_code\": \"7C\", \"end_date\": null}]}",
		"{\"networks\": [{\"fdsn_code\": \"7C\", \"start_date\": \"2018\", \"end_date\": null}]}",
		"{\"networks\": [{\"fdsn_code\": \"7C\", \"start_date\": \"2018-01-01\", \"end_date\": 2020}]}",
		"{\"networks\": [{\"fdsn_code\": \"7C\", \"start_date\": \"2018-01-01\", \"end_date\": \"soon\"}]}",
		"{\"networks\": [{\"fdsn_code\": \"7C\", \"start_date\": \"2018-02-30\", \"end_date\": null}]}",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_text(unit_tmp("bad.json"), bad[i]);
		netx_t *nx = (netx_t *)1;
		int rc = netx_init(&nx, &(netx_opts_t){ .file = unit_tmp("bad.json") });
		if (rc != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "registry %s: %d (%s), want ES_EFORMAT", bad[i], rc,
			          es_strerror(rc));
		ASSERT(nx == NULL);
	}
	netx_t *nx;
	ASSERT_ERR(netx_init(&nx, &(netx_opts_t){ .file = unit_tmp("missing.json") }), -ENOENT);
	ASSERT_ERR(netx_init(&nx, &(netx_opts_t){ .file = unit_tmpdir() }), -EISDIR);
	/* What is accepted: missing end_date, permanent codes, extra keys. */
	write_text(unit_tmp("ok.json"),
	           "{\"_about\": 1, \"networks\": [{\"fdsn_code\": \"GE\", \"start_date\": \"1993-01-01\"},"
	           " {\"fdsn_code\": \"7C\", \"start_date\": \"2018-01-01\", \"doi\": \"x\"}]}");
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .file = unit_tmp("ok.json") }));
	EXPECT(nx, "7C", "2099-12-31", "7C2018");
	EXPECT(nx, "7C", "2017-12-31", NULL);
	netx_fini(nx);
	/* A cache directory that cannot be made. */
	ASSERT_ERR(netx_init(&nx, &(netx_opts_t){ .cache_dir = unit_tmp("no/such/dir") }), -ENOENT);
}

TEST(netx_no_source_at_all)
{
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ 0 }));
	char out[NETX_CODE_MAX];
	ASSERT_ERR(extend(nx, "7C", "2019-01-01", out), ES_EUNAVAIL);
	EXPECT(nx, "GE", "2019-01-01", "GE");
	/* A bad date is a definite refusal even with no registry. */
	EXPECT(nx, "7C", "2019-13-01", NULL);
	netx_fini(nx);
}

/* ---- A registry web service on 127.0.0.1, answering from a networks.json. ---- */

struct registry {
	struct MHD_Daemon *d;
	int port;
	cJSON *networks;
	pthread_mutex_t mu;
	int requests;
	char codes[64][8];
	int counts[64];
	char base[128];
};

static void registry_count(struct registry *g, const char *code)
{
	pthread_mutex_lock(&g->mu);
	g->requests++;
	int i;
	for (i = 0; i < 64 && g->codes[i][0]; i++)
		if (strcmp(g->codes[i], code) == 0)
			break;
	if (i < 64) {
		snprintf(g->codes[i], sizeof g->codes[i], "%s", code);
		g->counts[i]++;
	}
	pthread_mutex_unlock(&g->mu);
}

static int registry_requests(struct registry *g, const char *code)
{
	pthread_mutex_lock(&g->mu);
	int n = 0;
	for (int i = 0; i < 64 && g->codes[i][0]; i++)
		if (!code || strcmp(g->codes[i], code) == 0)
			n += g->counts[i];
	pthread_mutex_unlock(&g->mu);
	return n;
}

static enum MHD_Result registry_reply(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
	                                                         MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/*
 * Answers GET /query?fdsn_code=XX like the FDSN registry: the deployments of
 * XX from the file, or 204.  A few codes misbehave on purpose: 5X → 500,
 * 6X → broken JSON, 0Q → an empty list, 8X → only other codes' deployments,
 * 7S → answers after 2 s.
 */
static enum MHD_Result registry_handler(void *cls, struct MHD_Connection *c, const char *url,
                                        const char *method, const char *version,
                                        const char *upload, size_t *upload_size, void **state)
{
	struct registry *g = cls;
	const char *code = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "fdsn_code");
	if (strcmp(method, "GET") != 0 || strcmp(url, "/query") != 0 || !code)
		return registry_reply(c, 400, "bad request");
	registry_count(g, code);
	if (strcmp(code, "5X") == 0)
		return registry_reply(c, 500, "internal error");
	if (strcmp(code, "6X") == 0)
		return registry_reply(c, 200, "{\"networks\": [");
	if (strcmp(code, "0Q") == 0)
		return registry_reply(c, 200, "{\"networks\": []}");
	if (strcmp(code, "8X") == 0)
		code = "7C";
	if (strcmp(code, "7S") == 0) {
		sleep(2);
		code = "7C";
	}
	cJSON *ans = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(ans, "networks");
	const cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItem(g->networks, "networks"))
		if (strcmp(cJSON_GetObjectItem(n, "fdsn_code")->valuestring, code) == 0)
			cJSON_AddItemToArray(list, cJSON_Duplicate(n, 1));
	enum MHD_Result ok;
	if (cJSON_GetArraySize(list) == 0) {
		ok = registry_reply(c, 204, "");
	} else {
		char *text = cJSON_PrintUnformatted(ans);
		ok = registry_reply(c, 200, text);
		free(text);
	}
	cJSON_Delete(ans);
	return ok;
}

static void registry_start(struct registry *g)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_init(&g->mu, NULL);
	g->networks = unit_json(unit_data("edge-cases/networks.json"));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	g->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
	                        0, NULL, NULL, registry_handler, g,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	ASSERT(g->d);
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT);
	ASSERT(i && i->port);
	g->port = i->port;
	snprintf(g->base, sizeof g->base, "http://127.0.0.1:%d/query", g->port);
}

static void registry_stop(struct registry *g)
{
	if (g->d)
		MHD_stop_daemon(g->d);
	g->d = NULL;
}

static void registry_free(struct registry *g)
{
	registry_stop(g);
	cJSON_Delete(g->networks);
	pthread_mutex_destroy(&g->mu);
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Names in the cache directory other than XX.json (left-over temporary files). */
static int stray_files(const char *dir)
{
	DIR *d = opendir(dir);
	ASSERT(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && (strlen(e->d_name) != 7 || strcmp(e->d_name + 2, ".json") != 0))
			n++;
	closedir(d);
	return n;
}

TEST(netx_url_answers_and_caches)
{
	struct registry g;
	registry_start(&g);
	const char *cache = unit_tmp("cache");
	netx_opts_t o = { .url = g.base, .cache_dir = cache, .timeout = 5 };
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &o));
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	ASSERT_EQ(registry_requests(&g, "7C"), 1);
	/* Second and third lookups of the code: the memory table, no request. */
	EXPECT(nx, "7C", "2009-05-01", "7C2009");
	EXPECT(nx, "7C", "2013-05-01", NULL);
	ASSERT_EQ(registry_requests(&g, "7C"), 1);
	EXPECT(nx, "Z3", "2018-03-31", "Z32015");
	EXPECT(nx, "Z3", "2018-04-01", NULL);
	ASSERT_EQ(registry_requests(&g, "Z3"), 1);
	/* Non-temporary codes and bad dates never reach the service. */
	EXPECT(nx, "GE", "2019-01-01", "GE");
	EXPECT(nx, "G", "2019-01-01", "G");
	EXPECT(nx, "XYZ", "2019-01-01", "XYZ");
	EXPECT(nx, "1a", "2019-01-01", "1a");
	EXPECT(nx, "1A", "2019-13-01", NULL);
	ASSERT_EQ(registry_requests(&g, NULL), 2);
	/* Negative answers: 204, an empty list, a list of other codes only. */
	EXPECT(nx, "9Z", "2019-01-01", NULL);
	EXPECT(nx, "9Z", "2019-01-01", NULL);
	EXPECT(nx, "0Q", "2019-01-01", NULL);
	EXPECT(nx, "0Q", "2019-01-01", NULL);
	EXPECT(nx, "8X", "2019-01-01", NULL);
	EXPECT(nx, "8X", "2019-01-01", NULL);
	ASSERT_EQ(registry_requests(&g, "9Z"), 1);
	ASSERT_EQ(registry_requests(&g, "8X"), 1);
	ASSERT_EQ(registry_requests(&g, "0Q"), 1);
	ASSERT(file_exists(unit_tmp("cache/7C.json")));
	ASSERT(file_exists(unit_tmp("cache/Z3.json")));
	ASSERT(file_exists(unit_tmp("cache/9Z.json")));
	ASSERT(file_exists(unit_tmp("cache/8X.json")));
	ASSERT(file_exists(unit_tmp("cache/0Q.json")));
	ASSERT_EQ(stray_files(cache), 0);
	netx_fini(nx);

	/* A new instance with the same cache directory asks nothing. */
	ASSERT_OK(netx_init(&nx, &o));
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	EXPECT(nx, "9Z", "2019-01-01", NULL);
	EXPECT(nx, "8X", "2019-01-01", NULL);
	EXPECT(nx, "0Q", "2019-01-01", NULL);
	ASSERT_EQ(registry_requests(&g, NULL), 5);
	netx_fini(nx);

	/* A URL with a query string of its own gets "&fdsn_code=". */
	char url[256];
	snprintf(url, sizeof url, "%s?format=json", g.base);
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .url = url }));
	EXPECT(nx, "1A", "2017-01-01", "1A2016");
	ASSERT_EQ(registry_requests(&g, "1A"), 1);
	netx_fini(nx);
	registry_free(&g);
}

TEST(netx_url_ttl_and_damaged_cache)
{
	struct registry g;
	registry_start(&g);
	const char *cache = unit_tmp("cache");
	netx_opts_t o = { .url = g.base, .cache_dir = cache, .cache_ttl = 1, .timeout = 5 };
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &o));
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	EXPECT(nx, "9Z", "2019-05-01", NULL);
	ASSERT_EQ(registry_requests(&g, NULL), 2);
	sleep(2);
	/* Expired in memory: asked again, positive and negative alike. */
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	EXPECT(nx, "9Z", "2019-05-01", NULL);
	ASSERT_EQ(registry_requests(&g, "7C"), 2);
	ASSERT_EQ(registry_requests(&g, "9Z"), 2);
	netx_fini(nx);

	/* A damaged cache file is ignored, then rewritten. */
	write_text(unit_tmp("cache/Z3.json"), "{\"fetched\": ");
	o.cache_ttl = 0;
	ASSERT_OK(netx_init(&nx, &o));
	EXPECT(nx, "Z3", "2019-09-01", "Z32019");
	ASSERT_EQ(registry_requests(&g, "Z3"), 1);
	netx_fini(nx);
	ASSERT_OK(netx_init(&nx, &o));
	EXPECT(nx, "Z3", "2019-09-01", "Z32019");
	ASSERT_EQ(registry_requests(&g, "Z3"), 1);
	netx_fini(nx);
	ASSERT_EQ(stray_files(cache), 0);
	registry_free(&g);
}

TEST(netx_url_unavailable)
{
	struct registry g;
	registry_start(&g);
	const char *cache = unit_tmp("cache");
	netx_opts_t o = { .url = g.base, .cache_dir = cache, .cache_ttl = 1, .timeout = 5 };
	netx_t *nx;
	char out[NETX_CODE_MAX];
	ASSERT_OK(netx_init(&nx, &o));
	/* HTTP 500 and broken JSON are not answers; they are not cached and not
	 * asked again at once. */
	ASSERT_ERR(extend(nx, "5X", "2019-01-01", out), ES_EUNAVAIL);
	ASSERT_ERR(extend(nx, "5X", "2019-01-01", out), ES_EUNAVAIL);
	ASSERT_EQ(registry_requests(&g, "5X"), 1);
	ASSERT_ERR(extend(nx, "6X", "2019-01-01", out), ES_EUNAVAIL);
	ASSERT(!file_exists(unit_tmp("cache/5X.json")));
	ASSERT(!file_exists(unit_tmp("cache/6X.json")));
	/* Fill the cache, then stop the server and let the entries expire. */
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	EXPECT(nx, "9Z", "2019-05-01", NULL);
	netx_fini(nx);
	registry_stop(&g);
	sleep(2);
	ASSERT_OK(netx_init(&nx, &o));
	EXPECT(nx, "7C", "2019-05-01", "7C2018");
	EXPECT(nx, "7C", "2010-05-01", "7C2009");
	EXPECT(nx, "9Z", "2019-05-01", NULL);
	ASSERT_ERR(extend(nx, "1A", "2017-01-01", out), ES_EUNAVAIL);
	netx_fini(nx);
	/* No cache at all and no server. */
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .url = g.base, .cache_dir = unit_tmp("empty-cache") }));
	ASSERT_ERR(extend(nx, "7C", "2019-05-01", out), ES_EUNAVAIL);
	netx_fini(nx);
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .url = g.base }));
	ASSERT_ERR(extend(nx, "7C", "2019-05-01", out), ES_EUNAVAIL);
	EXPECT(nx, "FR", "2019-05-01", "FR");
	netx_fini(nx);
	registry_free(&g);
}

TEST(netx_url_timeout)
{
	struct registry g;
	registry_start(&g);
	netx_t *nx;
	char out[NETX_CODE_MAX];
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .url = g.base, .timeout = 1 }));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_ERR(extend(nx, "7S", "2019-05-01", out), ES_EUNAVAIL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Measured to the nanosecond: the 1 s timeout ended the wait for the 2 s answer. */
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (took < 0.95 || took >= 2.0)
		unit_fail(__FILE__, __LINE__, "the lookup took %.3f s, expected 1 s to 2 s", took);
	netx_fini(nx);
	registry_free(&g);
}

TEST(netx_file_first_then_service)
{
	struct registry g;
	registry_start(&g);
	/* The file knows 7C differently from the service: the file wins; codes
	 * the file lacks go to the service. */
	write_text(unit_tmp("reg.json"), "{\"networks\": [{\"fdsn_code\": \"7C\", \"start_date\": "
	                            "\"2000-01-01\", \"end_date\": null}]}");
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .file = unit_tmp("reg.json"), .url = g.base }));
	EXPECT(nx, "7C", "2019-05-01", "7C2000");
	EXPECT(nx, "Z3", "2019-09-01", "Z32019");
	ASSERT_EQ(registry_requests(&g, "7C"), 0);
	ASSERT_EQ(registry_requests(&g, "Z3"), 1);
	netx_fini(nx);
	registry_free(&g);
}

struct hammer {
	netx_t *nx;
	int bad;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	const char *codes[] = { "7C", "Z3", "1A", "FR", "9Z" };
	const char *want[] = { "7C2018", "Z32019", "1A2016", "FR", NULL };
	for (int i = 0; i < 2000; i++) {
		char out[NETX_CODE_MAX];
		int k = i % 5;
		int rc = extend(h->nx, codes[k], k == 1 ? "2020-01-01" : "2019-05-01", out);
		if (want[k] ? (rc != 0 || strcmp(out, want[k]) != 0) : rc != ES_EREFUSED)
			h->bad++;
	}
	return NULL;
}

TEST(netx_threads_share_one_lookup)
{
	struct registry g;
	registry_start(&g);
	netx_t *nx;
	ASSERT_OK(netx_init(&nx, &(netx_opts_t){ .url = g.base, .cache_dir = unit_tmp("cache") }));
	pthread_t t[4];
	struct hammer h[4];
	for (int i = 0; i < 4; i++) {
		h[i] = (struct hammer){ .nx = nx };
		ASSERT(pthread_create(&t[i], NULL, hammer_run, &h[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ASSERT_EQ(h[i].bad, 0);
	}
	ASSERT_EQ(registry_requests(&g, "7C"), 1);
	ASSERT_EQ(registry_requests(&g, "Z3"), 1);
	ASSERT_EQ(registry_requests(&g, "1A"), 1);
	ASSERT_EQ(registry_requests(&g, "9Z"), 1);
	ASSERT_EQ(registry_requests(&g, NULL), 4);
	netx_fini(nx);
	registry_free(&g);
}
