#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ingestd/metrics.h"
#include "promw.h"
#include "ingestd/route.h"
#include "unit.h"

static const struct route routes[] = {
	{ .path = "/submit", .methods = ROUTE_POST, .auth = ROUTE_AUTH_NODE },
	{ .path = "/reports/*", .methods = ROUTE_GET, .auth = ROUTE_AUTH_NONE },
	{ .path = "/submit", .methods = ROUTE_PUT, .auth = ROUTE_AUTH_NODE },
};

static char *render(struct metrics *m, const struct metrics_gauges *g)
{
	jsonw_t w;
	size_t len;
	char *text;

	jsonw_init(&w, 0);
	if (metrics_render(m, g, &w) != 0)
		unit_fail(__FILE__, __LINE__, "metrics_render failed");
	text = jsonw_take(&w, &len);
	jsonw_fini(&w);
	return text;
}

/* Expects line (a whole line) in text. */
#define HAS_LINE(text, line) do { \
	char want_[512]; snprintf(want_, sizeof want_, "\n%s\n", line); \
	if (!strstr(text, want_)) unit_fail(__FILE__, __LINE__, "no line '%s' in:\n%s", line, text); \
} while (0)

TEST(promw_label)
{
	jsonw_t w;
	size_t len;
	char *t;

	jsonw_init(&w, 0);
	ASSERT_OK(promw_label(&w, "a\"b\\c\nd"));
	t = jsonw_take(&w, &len);
	ASSERT_STREQ(t, "a\\\"b\\\\c\\nd");
	free(t);
	ASSERT_OK(promw_label(&w, ""));
	jsonw_fini(&w);
}

TEST(ingestd_metrics_render)
{
	struct metrics *m = metrics_new(routes, 3, 1700000000);
	struct metrics_dbnode db[] = { { "GFZ", 1700000100 }, { "NOA", 0 } };
	struct metrics_gauges g = { .write_in_use = 1, .write_size = 8, .read_in_use = 2, .read_size = 8,
	                            .in_flight = 123, .in_flight_limit = 4096, .db_up = 1,
	                            .nodes = db, .nnodes = 2 };
	char *t;

	metrics_request(m, &routes[0], 200, 0.003);
	metrics_request(m, &routes[2], 200, 0.2);   /* Same path: same series. */
	metrics_request(m, &routes[0], 409, 0.02);
	metrics_request(m, &routes[1], 304, 70);
	metrics_request(m, NULL, 404, 0.001);
	metrics_submission(m, 3, "GFZ", 200, 10, 1700000050);
	metrics_submission(m, 3, "GFZ", 200, 5, 1700000200);
	metrics_submission(m, 3, "GFZ", 409, 7, 1700000300);
	metrics_submission(m, 4, "we\"ird\\", 400, 0, 1700000300);
	t = render(m, &g);

	HAS_LINE(t, "# TYPE eidastats_ingestd_node_payloads_accepted_total counter");
	HAS_LINE(t, "eidastats_ingestd_node_payloads_accepted_total{node=\"GFZ\"} 2");
	HAS_LINE(t, "eidastats_ingestd_node_statistics_stored_total{node=\"GFZ\"} 15");
	/* The later of the database's and this process's times. */
	HAS_LINE(t, "eidastats_ingestd_node_last_submission_timestamp_seconds{node=\"GFZ\"} 1700000200");
	HAS_LINE(t, "eidastats_ingestd_node_last_submission_timestamp_seconds{node=\"NOA\"} 0");
	HAS_LINE(t, "eidastats_ingestd_node_payloads_refused_total{node=\"GFZ\",reason=\"duplicate\"} 1");
	HAS_LINE(t, "eidastats_ingestd_node_payloads_refused_total{node=\"GFZ\",reason=\"malformed\"} 0");
	HAS_LINE(t, "eidastats_ingestd_node_payloads_refused_total{node=\"we\\\"ird\\\\\",reason=\"malformed\"} 1");
	HAS_LINE(t, "eidastats_ingestd_node_payloads_accepted_total{node=\"NOA\"} 0");
	HAS_LINE(t, "eidastats_ingestd_requests_total{route=\"/submit\",code=\"200\"} 2");
	HAS_LINE(t, "eidastats_ingestd_requests_total{route=\"/submit\",code=\"409\"} 1");
	HAS_LINE(t, "eidastats_ingestd_requests_total{route=\"none\",code=\"404\"} 1");
	HAS_LINE(t, "eidastats_ingestd_request_duration_seconds_bucket{route=\"/submit\",le=\"0.005\"} 1");
	HAS_LINE(t, "eidastats_ingestd_request_duration_seconds_bucket{route=\"/submit\",le=\"0.025\"} 2");
	HAS_LINE(t, "eidastats_ingestd_request_duration_seconds_bucket{route=\"/submit\",le=\"+Inf\"} 3");
	HAS_LINE(t, "eidastats_ingestd_request_duration_seconds_count{route=\"/submit\"} 3");
	/* 70 s is beyond the last bucket: only in +Inf. */
	HAS_LINE(t, "eidastats_ingestd_request_duration_seconds_bucket{route=\"/reports/*\",le=\"60\"} 0");
	HAS_LINE(t, "eidastats_ingestd_request_duration_seconds_bucket{route=\"/reports/*\",le=\"+Inf\"} 1");
	HAS_LINE(t, "eidastats_ingestd_db_connections_in_use{pool=\"read\"} 2");
	HAS_LINE(t, "eidastats_ingestd_in_flight_bytes 123");
	HAS_LINE(t, "eidastats_ingestd_in_flight_limit_bytes 4096");
	HAS_LINE(t, "eidastats_ingestd_database_up 1");
	HAS_LINE(t, "eidastats_ingestd_start_time_seconds 1700000000");
	/* One TYPE line per family. */
	ASSERT(strstr(strstr(t, "# TYPE eidastats_ingestd_requests_total"), "\n# TYPE eidastats_ingestd_requests_total") == NULL);
	free(t);

	/* Without the database: the counters alone. */
	g.db_up = 0;
	g.nodes = NULL;
	g.nnodes = 0;
	t = render(m, &g);
	HAS_LINE(t, "eidastats_ingestd_database_up 0");
	HAS_LINE(t, "eidastats_ingestd_node_last_submission_timestamp_seconds{node=\"GFZ\"} 1700000200");
	ASSERT(strstr(t, "node=\"NOA\"") == NULL);
	free(t);
	metrics_free(m);
}

TEST(ingestd_metrics_codes_overflow)
{
	struct metrics *m = metrics_new(routes, 3, 0);
	struct metrics_gauges g = { 0 };
	char *t;

	for (unsigned c = 0; c < METRICS_MAX_CODES + 3; c++)
		metrics_request(m, &routes[1], 200 + c, 0.1);
	t = render(m, &g);
	HAS_LINE(t, "eidastats_ingestd_requests_total{route=\"/reports/*\",code=\"other\"} 3");
	free(t);
	metrics_free(m);
}
