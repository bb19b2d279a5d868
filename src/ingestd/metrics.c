#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "mem.h"
#include "promw.h"

#include "metrics.h"
#include "route.h"

#define P "eidastats_ingestd_"

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

enum reason { R_MALFORMED, R_DUPLICATE, R_TOO_LARGE, R_ENCODING, R_UNAVAILABLE, R_ERROR, NREASONS };
static const char *const reason_names[NREASONS] = {
	"malformed", "duplicate", "too_large", "encoding", "unavailable", "error",
};

struct node {
	int id;
	char name[128];
	double last;
	uint64_t accepted, refused[NREASONS], stats;
};

/* One label value of requests: a distinct route path, or "none". */
struct series {
	const char *route;
	unsigned ncodes;
	unsigned code[METRICS_MAX_CODES];
	uint64_t count[METRICS_MAX_CODES];
	uint64_t other;
	uint64_t bucket[NBUCKETS];   /* Non-cumulative; summed when written. */
	uint64_t n;
	double sum;
};

struct metrics {
	pthread_mutex_t lock;
	const struct route *routes;
	size_t nroutes;
	size_t *slot;                /* Route index -> series index. */
	struct series *series;       /* nseries; the last one is "none". */
	size_t nseries;
	struct node *nodes;
	size_t nnodes;
	double start;
};

struct metrics *metrics_new(const struct route *routes, size_t nroutes, double start_time)
{
	struct metrics *m = es_calloc(1, sizeof *m);

	pthread_mutex_init(&m->lock, NULL);
	m->routes = routes;
	m->nroutes = nroutes;
	m->start = start_time;
	m->slot = es_calloc(nroutes + 1, sizeof *m->slot);
	m->series = es_calloc(nroutes + 1, sizeof *m->series);
	m->nodes = es_calloc(METRICS_MAX_NODES, sizeof *m->nodes);
	for (size_t i = 0; i < nroutes; i++) {
		size_t j = 0;
		while (j < m->nseries && strcmp(m->series[j].route, routes[i].path) != 0)
			j++;
		if (j == m->nseries)
			m->series[m->nseries++].route = routes[i].path;
		m->slot[i] = j;
	}
	m->series[m->nseries++].route = "none";
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->slot);
	free(m->series);
	free(m->nodes);
	free(m);
}

void metrics_request(struct metrics *m, const struct route *r, unsigned status, double seconds)
{
	size_t k = m->nseries - 1;
	struct series *s;
	unsigned i;

	if (r && r >= m->routes && r < m->routes + m->nroutes)
		k = m->slot[r - m->routes];
	pthread_mutex_lock(&m->lock);
	s = &m->series[k];
	for (i = 0; i < s->ncodes && s->code[i] != status; i++)
		;
	if (i == s->ncodes && i < METRICS_MAX_CODES)
		s->code[s->ncodes++] = status;
	if (i < s->ncodes)
		s->count[i]++;
	else
		s->other++;
	for (i = 0; i < NBUCKETS && seconds > buckets[i]; i++)
		;
	if (i < NBUCKETS)
		s->bucket[i]++;
	s->n++;
	s->sum += seconds;
	pthread_mutex_unlock(&m->lock);
}

static enum reason reason_of(unsigned status)
{
	switch (status) {
	case 400: return R_MALFORMED;
	case 409: return R_DUPLICATE;
	case 413: return R_TOO_LARGE;
	case 415: return R_ENCODING;
	case 503: return R_UNAVAILABLE;
	default: return R_ERROR;
	}
}

void metrics_submission(struct metrics *m, int node_id, const char *name, unsigned status,
                        size_t nstats, double at)
{
	struct node *n = NULL;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nnodes && !n; i++)
		if (m->nodes[i].id == node_id)
			n = &m->nodes[i];
	if (!n && m->nnodes < METRICS_MAX_NODES) {
		n = &m->nodes[m->nnodes++];
		n->id = node_id;
	}
	if (n) {
		/* A node renamed since: the newest name. */
		snprintf(n->name, sizeof n->name, "%s", name ? name : "");
		if (status == 200) {
			n->accepted++;
			n->stats += nstats;
			if (at > n->last)
				n->last = at;
		} else {
			n->refused[reason_of(status)]++;
		}
	}
	pthread_mutex_unlock(&m->lock);
}

static const char *u64(char *buf, uint64_t v)
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

/* The rows of the per-node metrics: the counters of this process, plus every node of the database. */
static struct node *merge_nodes(const struct metrics *m, const struct metrics_gauges *g, size_t *n)
{
	struct node *v = es_calloc(m->nnodes + g->nnodes + 1, sizeof *v);
	size_t k = 0;

	for (size_t i = 0; i < m->nnodes; i++)
		if (m->nodes[i].name[0])
			v[k++] = m->nodes[i];
	for (size_t i = 0; i < g->nnodes; i++) {
		size_t j = 0;
		while (j < k && strcmp(v[j].name, g->nodes[i].name) != 0)
			j++;
		if (j == k) {
			memset(&v[k], 0, sizeof v[k]);
			snprintf(v[k].name, sizeof v[k].name, "%s", g->nodes[i].name);
			k++;
		}
		if (g->nodes[i].last > v[j].last)
			v[j].last = g->nodes[i].last;
	}
	*n = k;
	return v;
}

int metrics_render(struct metrics *m, const struct metrics_gauges *g, jsonw_t *w)
{
	char a[32], b[32];
	struct node *nodes;
	size_t nn;

	pthread_mutex_lock(&m->lock);
	nodes = merge_nodes(m, g, &nn);

	promw_head(w, P "node_last_submission_timestamp_seconds", "gauge",
	     "Time of the newest accepted payload of the node (database and this process).");
	for (size_t i = 0; i < nn; i++)
		promw_f64(w, P "node_last_submission_timestamp_seconds", "node", nodes[i].name, nodes[i].last);
	promw_head(w, P "node_payloads_accepted_total", "counter", "Payloads accepted since the start.");
	for (size_t i = 0; i < nn; i++)
		promw_sample(w, P "node_payloads_accepted_total", "node", nodes[i].name, NULL, NULL,
		       u64(a, nodes[i].accepted));
	promw_head(w, P "node_payloads_refused_total", "counter", "Payloads refused since the start, by reason.");
	for (size_t i = 0; i < nn; i++)
		for (size_t r = 0; r < NREASONS; r++)
			promw_sample(w, P "node_payloads_refused_total", "node", nodes[i].name, "reason",
			       reason_names[r], u64(a, nodes[i].refused[r]));
	promw_head(w, P "node_statistics_stored_total", "counter",
	     "Statistics of the payloads accepted since the start.");
	for (size_t i = 0; i < nn; i++)
		promw_sample(w, P "node_statistics_stored_total", "node", nodes[i].name, NULL, NULL,
		       u64(a, nodes[i].stats));
	free(nodes);

	promw_head(w, P "requests_total", "counter", "HTTP requests answered, by route and status.");
	for (size_t k = 0; k < m->nseries; k++) {
		const struct series *s = &m->series[k];
		for (unsigned i = 0; i < s->ncodes; i++) {
			snprintf(b, sizeof b, "%u", s->code[i]);
			promw_sample(w, P "requests_total", "route", s->route, "code", b, u64(a, s->count[i]));
		}
		if (s->other)
			promw_sample(w, P "requests_total", "route", s->route, "code", "other", u64(a, s->other));
	}
	promw_head(w, P "request_duration_seconds", "histogram", "Time from a request's start to its end.");
	for (size_t k = 0; k < m->nseries; k++) {
		const struct series *s = &m->series[k];
		uint64_t cum = 0;
		if (s->n == 0)
			continue;
		for (size_t i = 0; i < NBUCKETS; i++) {
			cum += s->bucket[i];
			snprintf(b, sizeof b, "%g", buckets[i]);
			promw_sample(w, P "request_duration_seconds_bucket", "route", s->route, "le", b, u64(a, cum));
		}
		promw_sample(w, P "request_duration_seconds_bucket", "route", s->route, "le", "+Inf", u64(a, s->n));
		promw_f64(w, P "request_duration_seconds_sum", "route", s->route, s->sum);
		promw_sample(w, P "request_duration_seconds_count", "route", s->route, NULL, NULL, u64(a, s->n));
	}
	pthread_mutex_unlock(&m->lock);

	promw_head(w, P "db_connections_in_use", "gauge", "Database connections lent to requests now.");
	promw_sample(w, P "db_connections_in_use", "pool", "write", NULL, NULL, u64(a, g->write_in_use));
	promw_sample(w, P "db_connections_in_use", "pool", "read", NULL, NULL, u64(a, g->read_in_use));
	promw_head(w, P "db_connections", "gauge", "Size of the database connection pool.");
	promw_sample(w, P "db_connections", "pool", "write", NULL, NULL, u64(a, g->write_size));
	promw_sample(w, P "db_connections", "pool", "read", NULL, NULL, u64(a, g->read_size));
	promw_head(w, P "in_flight_bytes", "gauge", "Request bodies held in memory now (the budget in use).");
	promw_sample(w, P "in_flight_bytes", NULL, NULL, NULL, NULL, u64(a, g->in_flight));
	promw_head(w, P "in_flight_limit_bytes", "gauge", "The memory budget (setting max_in_flight).");
	promw_sample(w, P "in_flight_limit_bytes", NULL, NULL, NULL, NULL, u64(a, g->in_flight_limit));
	promw_head(w, P "database_up", "gauge", "1 when the database answered this scrape's query.");
	promw_sample(w, P "database_up", NULL, NULL, NULL, NULL, g->db_up ? "1" : "0");
	promw_head(w, P "start_time_seconds", "gauge", "When this process started.");
	promw_f64(w, P "start_time_seconds", NULL, NULL, m->start);
	return jsonw_error(w);
}
