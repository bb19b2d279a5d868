/*
 * query.c - parameters, errors, restriction map and SQL of the query API
 * (query.h, doc/query-api.md).
 */
#include "query.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jsonw.h"
#include "utf8.h"

/* ---- errors ---- */

int q_wants_json(const struct q_pair *pairs, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(pairs[i].name, "format") == 0)
			return strcmp(pairs[i].value, "json") == 0;
	return 0;
}

void q_error_init(struct q_error *e, int json)
{
	memset(e, 0, sizeof(*e));
	e->json = json;
}

void q_error_set(struct q_error *e, int status, const char *msg)
{
	if (e->status)
		return;
	e->status = status;
	e->has_msg = msg != NULL;
	if (msg)
		snprintf(e->msg, sizeof(e->msg), "%s", msg);
}

/* Like q_error_set with a format; the first error wins. */
static void err_fmt(struct q_error *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_fmt(struct q_error *e, int status, const char *fmt, ...)
{
	va_list ap;

	if (e->status)
		return;
	e->status = status;
	e->has_msg = 1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

const char *q_status_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Request Entity Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

const char *q_error_content_type(const struct q_error *e)
{
	return e->json ? "application/json" : "text/html; charset=UTF-8";
}

/* Appends s to out[*len..cap) keeping room for the NUL; cuts when full. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
	if (cap == 0)
		return;
	if (*len + n >= cap)
		n = cap - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

size_t q_error_body(const struct q_error *e, char *out, size_t cap)
{
	size_t len = 0;
	char head[96];

	if (cap)
		out[0] = '\0';
	if (e->json) {
		jsonw_t w;
		char msg[Q_ERR_TEXT], *txt;
		size_t tl;

		if (e->has_msg)
			snprintf(msg, sizeof(msg), "%s", e->msg);
		else
			snprintf(msg, sizeof(msg), "%d %s", e->status, q_status_reason(e->status));
		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		/* The message is our own text or a repr()ed name: valid UTF-8. */
		jsonw_init(&w, Q_ERR_TEXT * 8);
		jsonw_lit(&w, "{\"code\": ");
		jsonw_i64(&w, e->status);
		jsonw_lit(&w, ", \"message\": ");
		jsonw_str(&w, msg, strlen(msg));
		jsonw_lit(&w, "}");
		txt = jsonw_take(&w, &tl);
		jsonw_fini(&w);
		if (!txt) {
			snprintf(head, sizeof(head), "{\"code\": %d, \"message\": \"\"}", e->status);
			put(out, cap, &len, head, strlen(head));
			return len;
		}
		put(out, cap, &len, txt, tl);
		free(txt);
		return len;
	}
	snprintf(head, sizeof(head), "<h1>%d %s</h1>", e->status, q_status_reason(e->status));
	put(out, cap, &len, head, strlen(head));
	if (!e->has_msg)
		return len;
	put(out, cap, &len, "<p>", 3);
	for (const char *p = e->msg; *p; p++) {
		switch (*p) {
		case '\n': put(out, cap, &len, "<br>", 4); break;
		case '&': put(out, cap, &len, "&amp;", 5); break;
		case '<': put(out, cap, &len, "&lt;", 4); break;
		case '>': put(out, cap, &len, "&gt;", 4); break;
		default: put(out, cap, &len, p, 1); break;
		}
	}
	put(out, cap, &len, "</p>", 4);
	return len;
}

size_t q_py_repr(const char *s, char *out, size_t cap)
{
	size_t len = 0, n = strlen(s);
	char q = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
	char tmp[8];

	if (cap == 0)
		return 0;
	out[0] = '\0';
	if (cap < 3)
		return 0;
	cap -= 1; /* room for the closing quote */
	put(out, cap, &len, &q, 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k = 1, tl;

		if (c == '\\')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
		else if (c == (unsigned char)q)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", q);
		else if (c == '\n')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (c == '\r')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\r");
		else if (c == '\t')
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
		else if (c < 0x20 || c == 0x7f)
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		else if (c < 0x80) {
			tmp[0] = (char)c;
			tl = 1;
		} else if ((k = utf8_decode((const unsigned char *)s + i, n - i, &cp)) > 0) {
			memcpy(tmp, s + i, k);
			tl = k;
		} else {
			k = 1;
			tl = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", c);
		}
		if (len + tl >= cap)
			break;
		put(out, cap, &len, tmp, tl);
		i += k;
	}
	cap += 1;
	put(out, cap, &len, &q, 1);
	return len;
}

/* ---- restriction map ---- */

void q_policy_init(struct q_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void q_policy_fini(struct q_policy *p)
{
	for (size_t i = 0; i < p->nnodes; i++) {
		free(p->nodes[i].name);
		free(p->nodes[i].group);
	}
	for (size_t i = 0; i < p->nnets; i++) {
		free(p->nets[i].node);
		free(p->nets[i].name);
		free(p->nets[i].group);
	}
	free(p->nodes);
	free(p->nets);
	memset(p, 0, sizeof(*p));
}

/* strdup of NULL is NULL; *fail set on allocation failure. */
static char *dup_or_null(const char *s, int *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = 1;
	return d;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	nv = realloc(*v, nc * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

int q_policy_add_node(struct q_policy *p, const char *name, int policy, const char *group)
{
	struct q_pnode *d;
	int fail = 0;

	if (grow((void **)&p->nodes, &p->capnodes, p->nnodes, sizeof(*p->nodes)) < 0)
		return -ENOMEM;
	d = &p->nodes[p->nnodes];
	d->name = dup_or_null(name, &fail);
	d->group = dup_or_null(group, &fail);
	d->policy = policy;
	if (fail || !d->name) {
		free(d->name);
		free(d->group);
		return -ENOMEM;
	}
	p->nnodes++;
	p->sealed = 0;
	return 0;
}

int q_policy_add_net(struct q_policy *p, const char *node, const char *net, int inverted, const char *group)
{
	struct q_pnet *d;
	int fail = 0;

	if (grow((void **)&p->nets, &p->capnets, p->nnets, sizeof(*p->nets)) < 0)
		return -ENOMEM;
	d = &p->nets[p->nnets];
	d->node = dup_or_null(node, &fail);
	d->name = dup_or_null(net, &fail);
	d->group = dup_or_null(group, &fail);
	d->inverted = inverted;
	if (fail || !d->node || !d->name) {
		free(d->node);
		free(d->name);
		free(d->group);
		return -ENOMEM;
	}
	p->nnets++;
	p->sealed = 0;
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct q_pnode *)a)->name, ((const struct q_pnode *)b)->name);
}

static int cmp_net(const void *a, const void *b)
{
	const struct q_pnet *x = a, *y = b;
	int c = strcmp(x->node, y->node);

	return c ? c : strcmp(x->name, y->name);
}

void q_policy_seal(struct q_policy *p)
{
	if (p->nnodes)
		qsort(p->nodes, p->nnodes, sizeof(*p->nodes), cmp_node);
	if (p->nnets)
		qsort(p->nets, p->nnets, sizeof(*p->nets), cmp_net);
	p->sealed = 1;
}

static const struct q_pnode *find_node(const struct q_policy *p, const char *name)
{
	struct q_pnode key = { .name = (char *)name };

	if (!p->nnodes)
		return NULL;
	if (p->sealed)
		return bsearch(&key, p->nodes, p->nnodes, sizeof(*p->nodes), cmp_node);
	for (size_t i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].name, name) == 0)
			return &p->nodes[i];
	return NULL;
}

static const struct q_pnet *find_net(const struct q_policy *p, const char *node, const char *net)
{
	struct q_pnet key = { .node = (char *)node, .name = (char *)net };

	if (!p->nnets)
		return NULL;
	if (p->sealed)
		return bsearch(&key, p->nets, p->nnets, sizeof(*p->nets), cmp_net);
	for (size_t i = 0; i < p->nnets; i++)
		if (cmp_net(&key, &p->nets[i]) == 0)
			return &p->nets[i];
	return NULL;
}

int q_policy_has_net(const struct q_policy *p, const char *node, const char *net)
{
	return find_net(p, node, net) != NULL;
}

enum q_state q_policy_state(const struct q_policy *p, const char *node, const char *net, const char **group)
{
	const struct q_pnode *n = find_node(p, node);
	const struct q_pnet *w = find_net(p, node, net);

	if (group)
		*group = w ? w->group : NULL;
	if (!n || !w || n->policy < 0 || w->inverted < 0)
		return Q_UNDEFINED;
	return (n->policy ^ w->inverted) ? Q_RESTRICTED_STATE : Q_OPEN;
}

static int in_groups(const char *g, char *const *groups, size_t ngroups)
{
	if (!g)
		return 0;
	for (size_t i = 0; i < ngroups; i++)
		if (strcmp(g, groups[i]) == 0)
			return 1;
	return 0;
}

int q_policy_is_operator(const struct q_policy *p, char *const *groups, size_t ngroups)
{
	for (size_t i = 0; i < p->nnodes; i++)
		if (in_groups(p->nodes[i].group, groups, ngroups))
			return 1;
	return 0;
}

int q_policy_visible(const struct q_policy *p, const char *node, const char *net,
                     int authenticated, char *const *groups, size_t ngroups)
{
	const char *g;
	enum q_state st = q_policy_state(p, node, net, &g);

	if (st == Q_OPEN)
		return 1;
	return authenticated && in_groups(g, groups, ngroups);
}

/* ---- parameters ---- */

static void list_free(struct q_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void q_query_fini(struct query *q)
{
	list_free(&q->node);
	list_free(&q->network);
	list_free(&q->station);
	list_free(&q->location);
	list_free(&q->channel);
	list_free(&q->country);
	free(q->raw);
	memset(q, 0, sizeof(*q));
}

/* Appends s[0..len) (wildcards translated when wild). */
static int list_add(struct q_list *l, const char *s, size_t len, int wild)
{
	char **nv;
	char *d;

	if (l->n >= Q_MAX_ITEMS)
		return ES_ELIMIT;
	d = malloc(len + 1);
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		d[i] = !wild ? s[i] : s[i] == '*' ? '%' : s[i] == '?' ? '_' : s[i];
	d[len] = '\0';
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv) {
		free(d);
		return -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = d;
	return 0;
}

/* Appends the comma-separated items of s. */
static int list_split(struct q_list *l, const char *s, int wild)
{
	for (;;) {
		const char *c = strchr(s, ',');
		size_t len = c ? (size_t)(c - s) : strlen(s);
		int rc = list_add(l, s, len, wild);

		if (rc < 0)
			return rc;
		if (!c)
			return 0;
		s = c + 1;
	}
}

/* "YYYY-M" or "YYYY-MM", ASCII digits, month 1..12, year >= 1. */
static int parse_month(const char *s, int *out)
{
	int y, m;

	for (int i = 0; i < 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	if (s[4] != '-' || s[5] < '0' || s[5] > '9')
		return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = s[5] - '0';
	if (s[6]) {
		if (s[6] < '0' || s[6] > '9' || s[7])
			return -1;
		m = m * 10 + (s[6] - '0');
	}
	if (y < 1 || m < 1 || m > 12)
		return -1;
	*out = y * 12 + m - 1;
	return 0;
}

enum pname {
	P_START, P_END, P_FORMAT, P_HLL, P_LEVEL, P_DETAILS, P_NODE, P_NETWORK,
	P_STATION, P_LOCATION, P_CHANNEL, P_COUNTRY, P_UNKNOWN
};

static const char *const pnames[] = {
	"start", "end", "format", "hllvalues", "level", "details", "node", "network",
	"station", "location", "channel", "country"
};

static enum pname pname_of(const char *name, enum q_endpoint ep)
{
	for (int i = 0; i < P_UNKNOWN; i++)
		if (strcmp(name, pnames[i]) == 0) {
			if (ep == Q_PUBLIC && (i == P_STATION || i == P_LOCATION || i == P_CHANNEL))
				return P_UNKNOWN;
			return (enum pname)i;
		}
	return P_UNKNOWN;
}

static const char *last_value(const struct q_pair *pairs, size_t n, const char *name)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(pairs[i].name, name) == 0)
			return pairs[i].value;
	return NULL;
}

static int unsupported(struct q_error *e, enum pname p)
{
	err_fmt(e, 400, "Unsupported value for parameter '%s'", pnames[p]);
	return ES_EFORMAT;
}

static int oom(struct q_error *e)
{
	q_error_set(e, 500, NULL);
	return -ENOMEM;
}

/* Adds every occurrence of a list parameter (split on commas unless `whole`). */
static int take_list(struct q_list *l, enum pname p, const struct q_pair *pairs, size_t n,
                     int wild, struct q_error *e)
{
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (strcmp(pairs[i].name, pnames[p]) != 0)
			continue;
		rc = list_split(l, pairs[i].value, wild);
		if (rc == -ENOMEM)
			return oom(e);
		if (rc < 0)
			return unsupported(e, p);
	}
	return 0;
}

static int check_one(struct query *q, enum pname p, const struct q_pair *pairs, size_t n,
                     const struct q_policy *nodes, struct q_error *e)
{
	const char *v = last_value(pairs, n, pnames[p]);
	int nonop = q->endpoint == Q_RESTRICTED && !q->is_operator;
	int rc;

	switch (p) {
	case P_START:
		return parse_month(v, &q->start) < 0 ? unsupported(e, p) : 0;
	case P_END:
		q->has_end = 1;
		return parse_month(v, &q->end) < 0 ? unsupported(e, p) : 0;
	case P_FORMAT:
		if (strcmp(v, "csv") && strcmp(v, "json"))
			return unsupported(e, p);
		q->json = strcmp(v, "json") == 0;
		return 0;
	case P_HLL:
		if (strcmp(v, "true") && strcmp(v, "false"))
			return unsupported(e, p);
		q->hllvalues = strcmp(v, "true") == 0;
		return 0;
	case P_LEVEL: {
		static const char *const lv[] = { "node", "network", "station", "location", "channel" };
		int max = q->endpoint == Q_PUBLIC ? 2 : 5;

		q->level = Q_LEVEL_NONE;
		for (int i = 0; i < max; i++)
			if (strcmp(v, lv[i]) == 0)
				q->level = (enum q_level)(Q_LEVEL_NODE + i);
		if (q->level == Q_LEVEL_NONE)
			return unsupported(e, p);
		if (nonop && q->level >= Q_LEVEL_STATION && !last_value(pairs, n, "network")) {
			q_error_set(e, 400, Q_MSG_NONET);
			return ES_EFORMAT;
		}
		return 0;
	}
	case P_DETAILS: {
		struct q_list l = { 0 };

		q->details = 0;
		rc = take_list(&l, p, pairs, n, 0, e);
		for (size_t i = 0; rc == 0 && i < l.n; i++) {
			if (strcmp(l.v[i], "month") == 0)
				q->details |= Q_DETAIL_MONTH;
			else if (strcmp(l.v[i], "year") == 0)
				q->details |= Q_DETAIL_YEAR;
			else if (strcmp(l.v[i], "country") == 0)
				q->details |= Q_DETAIL_COUNTRY;
			else
				rc = unsupported(e, p);
		}
		list_free(&l);
		if (rc == 0 && (q->details & Q_DETAIL_MONTH) && (q->details & Q_DETAIL_YEAR)) {
			q_error_set(e, 400, Q_MSG_ONE_OF);
			rc = ES_EFORMAT;
		}
		return rc;
	}
	case P_NODE:
		list_free(&q->node);
		if ((rc = take_list(&q->node, p, pairs, n, 0, e)) < 0)
			return rc;
		for (size_t i = 0; i < q->node.n; i++)
			if (!nodes || !find_node(nodes, q->node.v[i]))
				return unsupported(e, p);
		return 0;
	case P_NETWORK:
		list_free(&q->network);
		if (q->endpoint == Q_PUBLIC || nonop) {
			rc = list_add(&q->network, v, strlen(v), 1);
			return rc == -ENOMEM ? oom(e) : rc < 0 ? unsupported(e, p) : 0;
		}
		return take_list(&q->network, p, pairs, n, 1, e);
	case P_STATION:
		list_free(&q->station);
		return take_list(&q->station, p, pairs, n, 1, e);
	case P_LOCATION:
		list_free(&q->location);
		return take_list(&q->location, p, pairs, n, 1, e);
	case P_CHANNEL:
		list_free(&q->channel);
		return take_list(&q->channel, p, pairs, n, 1, e);
	case P_COUNTRY:
		list_free(&q->country);
		return take_list(&q->country, p, pairs, n, 0, e);
	case P_UNKNOWN:
		break;
	}
	q_error_set(e, 500, NULL);
	return ES_EINTERNAL;
}

int q_parse(struct query *q, enum q_endpoint endpoint, int is_operator,
            const struct q_pair *pairs, size_t n, const char *raw,
            const struct q_policy *nodes, struct q_error *e)
{
	int nonop = endpoint == Q_RESTRICTED && !is_operator;
	unsigned seen = 0;

	memset(q, 0, sizeof(*q));
	q->endpoint = endpoint;
	q->is_operator = endpoint == Q_RESTRICTED && is_operator;
	q->raw = strdup(raw ? raw : "");
	if (!q->raw)
		return oom(e);
	if (n > Q_MAX_PAIRS) {
		q_error_set(e, 400, "Too many parameters");
		return ES_ELIMIT;
	}
	if (!last_value(pairs, n, "start")) {
		q_error_set(e, 400, Q_MSG_START_REQUIRED);
		return ES_EFORMAT;
	}
	if (nonop && !last_value(pairs, n, "network") && (last_value(pairs, n, "station")
	    || last_value(pairs, n, "location") || last_value(pairs, n, "channel"))) {
		q_error_set(e, 400, Q_MSG_NONET);
		return ES_EFORMAT;
	}
	for (size_t i = 0; i < n; i++) {
		enum pname p = pname_of(pairs[i].name, endpoint);
		int rc;

		if (p == P_UNKNOWN) {
			char rep[Q_ERR_TEXT - 32];

			q_py_repr(pairs[i].name, rep, sizeof(rep));
			err_fmt(e, 400, "Invalid parameter %s", rep);
			return ES_EFORMAT;
		}
		/* A repeated name is checked once: its value(s) do not change. */
		if (seen & (1u << p))
			continue;
		seen |= 1u << p;
		for (size_t j = 0; j < n; j++)
			if (strcmp(pairs[j].name, pnames[p]) == 0 && strlen(pairs[j].value) > Q_MAX_VALUE)
				return unsupported(e, p);
		if ((rc = check_one(q, p, pairs, n, nodes, e)) < 0)
			return rc;
	}
	return 0;
}

int q_folds(const struct query *q)
{
	if (q->endpoint == Q_PUBLIC)
		return q->level == Q_LEVEL_NETWORK;
	return !q->is_operator && q->level >= Q_LEVEL_NETWORK;
}

int q_precheck(const struct query *q, const struct q_policy *p,
               char *const *groups, size_t ngroups, struct q_error *e)
{
	int found = 0, granted = 0;
	int auth = q->endpoint == Q_RESTRICTED;
	const char *net;

	if (q->network.n == 0 || q->is_operator)
		return 0;
	net = q->network.v[q->network.n - 1];
	if (q->node.n) {
		for (size_t i = 0; i < q->node.n; i++) {
			if (!q_policy_has_net(p, q->node.v[i], net))
				continue;
			found = 1;
			granted |= q_policy_visible(p, q->node.v[i], net, auth, groups, ngroups);
		}
	} else {
		for (size_t i = 0; i < p->nnodes; i++) {
			if (!q_policy_has_net(p, p->nodes[i].name, net))
				continue;
			found = 1;
			granted |= q_policy_visible(p, p->nodes[i].name, net, auth, groups, ngroups);
		}
	}
	if (!found) {
		q_error_set(e, 400, Q_MSG_NO_ENTRY);
		return ES_EAUTH;
	}
	if (granted)
		return 0;
	if (auth)
		q_error_set(e, 403, Q_MSG_403);
	else
		q_error_set(e, 401, Q_MSG_401_PUBLIC);
	return ES_EAUTH;
}

/* ---- SQL ---- */

struct sb {
	char *buf;
	size_t len, cap;
	int err;
	char **params;
	size_t np, capp;
};

static void sb_add(struct sb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		char *nb;

		while (nc < b->len + n + 1)
			nc *= 2;
		nb = realloc(b->buf, nc);
		if (!nb) {
			b->err = -ENOMEM;
			return;
		}
		b->buf = nb;
		b->cap = nc;
	}
	memcpy(b->buf + b->len, s, n + 1);
	b->len += n;
}

/* Adds a parameter and its placeholder "$k" (with cast) to the text. */
static void sb_param(struct sb *b, const char *value, const char *cast)
{
	char ph[32];
	char *d;

	if (b->err)
		return;
	if (grow((void **)&b->params, &b->capp, b->np, sizeof(*b->params)) < 0
	    || !(d = strdup(value))) {
		b->err = -ENOMEM;
		return;
	}
	b->params[b->np++] = d;
	snprintf(ph, sizeof(ph), "$%zu%s", b->np, cast ? cast : "");
	sb_add(b, ph);
}

/* col = ANY of the list: exact, or LIKE for items holding a wildcard when like. */
static void sb_filter(struct sb *b, const char *col, const struct q_list *l, int like)
{
	if (l->n == 0)
		return;
	sb_add(b, " AND (");
	for (size_t i = 0; i < l->n; i++) {
		int w = like && strpbrk(l->v[i], "%_") != NULL;

		if (i)
			sb_add(b, " OR ");
		sb_add(b, col);
		sb_add(b, w ? " LIKE " : " = ");
		sb_param(b, l->v[i], "::text");
	}
	sb_add(b, ")");
}

void q_sql_fini(struct q_sql *s)
{
	for (size_t i = 0; i < s->nparams; i++)
		free(s->params[i]);
	free(s->params);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

/* Appends s to a PostgreSQL array literal's text as a quoted element. */
static void sb_elem(struct sb *b, const char *s)
{
	char one[2] = { 0, 0 };

	sb_add(b, b->len > 1 ? ",\"" : "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_add(b, "\\");
		one[0] = *s;
		sb_add(b, one);
	}
	sb_add(b, "\"");
}

/*
 * The client sets column of a rollup whose rows are the answer's rows: the
 * set only where it is needed, the rows of (node, network) pairs that the
 * caller may not see (folded into Other); elsewhere NULL, and clients_card
 * (sql/010-rollup-clients-card.sql) gives the count.  The pairs that are
 * visible are passed as two arrays: a pair the map does not know is never
 * visible, so its set is always there.
 */
static void sb_clients_when_folded(struct sb *b, const struct query *q, const struct q_policy *p,
                                   char *const *groups, size_t ngroups)
{
	struct sb nodes = { 0 }, nets = { 0 };

	if (!q_folds(q)) {
		sb_add(b, "CASE WHEN s.clients_card IS NULL THEN s.clients END, ");
		return;
	}
	sb_add(&nodes, "{");
	sb_add(&nets, "{");
	for (size_t i = 0; i < p->nnets; i++) {
		const struct q_pnet *w = &p->nets[i];

		if (!q_policy_visible(p, w->node, w->name, q->endpoint == Q_RESTRICTED, groups, ngroups))
			continue;
		sb_elem(&nodes, w->node);
		sb_elem(&nets, w->name);
	}
	sb_add(&nodes, "}");
	sb_add(&nets, "}");
	if (nodes.err || nets.err)
		b->err = -ENOMEM;
	sb_add(b, "CASE WHEN s.clients_card IS NULL OR (n.name::text, s.network::text) NOT IN "
	       "(SELECT * FROM unnest(");
	sb_param(b, nodes.err ? "{}" : nodes.buf, "::text[]");
	sb_add(b, ", ");
	sb_param(b, nets.err ? "{}" : nets.buf, "::text[]");
	sb_add(b, ")) THEN s.clients END, ");
	free(nodes.buf);
	free(nets.buf);
}

int q_pack_next(const uint8_t *pack, size_t len, size_t *pos, struct q_pack_row *row)
{
	size_t k = *pos;

	if (k >= len)
		return 0;
	for (int i = 0; i < 2; i++) {
		size_t n;
		const char **v = i ? &row->cty : &row->net;
		size_t *vl = i ? &row->ctylen : &row->netlen;

		if (k >= len)
			return ES_EFORMAT;
		n = pack[k++];
		if (n == 255) {
			*v = NULL;
			*vl = 0;
			continue;
		}
		if (n > len - k)
			return ES_EFORMAT;
		*v = (const char *)pack + k;
		*vl = n;
		k += n;
	}
	if (len - k < 32)
		return ES_EFORMAT;
	for (int i = 0; i < 4; i++) {
		uint64_t x = 0;

		for (int j = 0; j < 8; j++)
			x = x << 8 | pack[k++];
		if (i < 3)
			row->num[i] = (int64_t)x;
		else
			row->card = (int64_t)x;
	}
	*pos = k;
	return 1;
}

/* The month range of q (q->has_end) as " AND s.month >= $i AND s.month < $j". */
static void sb_months(struct sb *b, const struct query *q)
{
	char day[48];
	int e1 = q->end + 1;

	snprintf(day, sizeof(day), "%04d-%02d-01", q->start / 12, q->start % 12 + 1);
	sb_add(b, "s.month >= ");
	sb_param(b, day, "::date");
	snprintf(day, sizeof(day), "%04d-%02d-01", e1 / 12, e1 % 12 + 1);
	sb_add(b, " AND s.month < ");
	sb_param(b, day, "::date");
}

static int sb_done(struct sb *b, struct q_sql *out)
{
	if (b->err) {
		free(b->buf);
		for (size_t i = 0; i < b->np; i++)
			free(b->params[i]);
		free(b->params);
		return b->err;
	}
	out->text = b->buf;
	out->params = b->params;
	out->nparams = b->np;
	return 0;
}

/* Appends the array literal of v[0..n) as a text[] parameter. */
static void sb_array(struct sb *b, char *const *v, size_t n)
{
	struct sb a = { 0 };

	sb_add(&a, "{");
	for (size_t i = 0; i < n; i++)
		sb_elem(&a, v[i]);
	sb_add(&a, "}");
	if (a.err)
		b->err = -ENOMEM;
	sb_param(b, a.err ? "{}" : a.buf, "::text[]");
	free(a.buf);
}

int q_sql_build_folds(const struct query *q, const struct q_fold_keys *k, struct q_sql *out)
{
	struct sb b = { 0 };

	memset(out, 0, sizeof(*out));
	/* By pair: each one's rows through dataselect_rollup_key, but those of whole node-months. */
	sb_add(&b, "SELECT to_char(s.month, 'YYYY-MM'), s.country::text, s.clients, 'f'"
	       " FROM unnest(");
	sb_array(&b, k->pnode, k->npairs);
	sb_add(&b, ", ");
	sb_array(&b, k->pnet, k->npairs);
	sb_add(&b, ") AS u(node, network) JOIN nodes n ON n.name = u.node"
	       " JOIN dataselect_rollup s ON s.node_id = n.id AND s.network = u.network WHERE ");
	sb_months(&b, q);
	sb_add(&b, " AND (n.name::text, to_char(s.month, 'YYYY-MM')) NOT IN (SELECT * FROM unnest(");
	sb_array(&b, k->wnode, k->nwhole);
	sb_add(&b, ", ");
	sb_array(&b, k->wmonth, k->nwhole);
	sb_add(&b, ")) UNION ALL SELECT to_char(c.month, 'YYYY-MM'), c.country::text, c.clients, 't'"
	       " FROM unnest(");
	sb_array(&b, k->wnode, k->nwhole);
	sb_add(&b, ", ");
	sb_array(&b, k->wmonth, k->nwhole);
	sb_add(&b, ") AS w(node, month) JOIN nodes n ON n.name = w.node"
	       " JOIN dataselect_rollup_country c ON c.node_id = n.id AND c.month = (w.month || '-01')::date");
	out->rollup = 1;
	return sb_done(&b, out);
}

/* Network level by month and country from dataselect_rollup_pack (q_sql.packs). */
static int build_packs(const struct query *q, struct q_sql *out)
{
	struct sb b = { 0 };

	memset(out, 0, sizeof(*out));
	sb_add(&b, "SELECT to_char(s.month, 'YYYY-MM'), n.name::text, NULL::text, NULL::text, NULL::text,"
	       " NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, s.pack, 't', NULL::text"
	       " FROM dataselect_rollup_pack s JOIN nodes n ON n.id = s.node_id WHERE ");
	sb_months(&b, q);
	sb_filter(&b, "n.name", &q->node, 0);
	sb_add(&b, " ORDER BY s.month, n.name COLLATE \"C\"");
	out->rollup = 1;
	out->packs = 1;
	return sb_done(&b, out);
}

int q_sql_build(const struct query *q, int use_rollup, struct q_sql *out)
{
	return q_sql_build_for(q, use_rollup, NULL, NULL, 0, out);
}

int q_sql_build_for(const struct query *q, int use_rollup, const struct q_policy *p,
                    char *const *groups, size_t ngroups, struct q_sql *out)
{
	struct sb b = { 0 };
	const char *dcol;
	char day[48];
	char group[512] = "", order[512] = "";
	/*
	 * 4: by (node, year, country); 3: by (node, month); 2: by (node, month, country);
	 * 1: by (node, month, network, country); 0: raw.
	 */
	int roll = !use_rollup || q->level > Q_LEVEL_NETWORK || q->station.n || q->location.n
	           || q->channel.n ? 0 : q->level < Q_LEVEL_NETWORK && !q->network.n ? 2 : 1;
	int month = (q->details & Q_DETAIL_MONTH) != 0, cdet = (q->details & Q_DETAIL_COUNTRY) != 0;
	int year = !month && (q->details & Q_DETAIL_YEAR) != 0;
	/* The range is whole years: every year it groups is all in dataselect_rollup_node_year_country. */
	int whole_years = q->start % 12 == 0 && (!q->has_end || q->end % 12 == 11);
	int one_row, cards;
	struct { int on; const char *expr; const char *ord; } g[7];
	int restricted = q->endpoint == Q_RESTRICTED;

	if (roll == 2 && !cdet && !q->country.n)
		roll = 3;
	/* By (node, month) stays cheaper than by (node, year, country) without countries. */
	if (roll == 2 && year && whole_years)
		roll = 4;
	/* Each group is one rollup row: no aggregate (and so no union of HLLs) at all. */
	one_row = roll == 4 ? q->level == Q_LEVEL_NODE && cdet
	          : month && q->level == (roll == 1 ? Q_LEVEL_NETWORK : Q_LEVEL_NODE)
	            && (roll == 3 || (roll && cdet));

	/* Answer rows that are dataselect_rollup's rows, read from their packs (sql/012). */
	if (one_row && roll == 1 && p && !q->hllvalues && !q->network.n && !q->country.n
	    && q->has_end && q->end >= q->start && q->end - q->start < Q_PACK_MONTHS)
		return build_packs(q, out);
	memset(out, 0, sizeof(*out));
	dcol = roll == 4 ? "s.year" : roll ? "s.month" : "s.date";
	/*
	 * Grouping columns in output order: date, node, network, station, location,
	 * channel, country.  On a rollup the groups are sorted as they are made:
	 * the date by its own order (that of its text) and the names in "C"
	 * order, grouped by the same expressions, so PostgreSQL sorts the rows
	 * once and never the aggregated ones (with their client sets) again.
	 */
	g[0].on = month || (q->details & Q_DETAIL_YEAR);
	if (roll == 4) {
		g[0].expr = "to_char(s.year, 'YYYY')";
		g[0].ord = "s.year";
	} else if (roll) {
		g[0].expr = month ? "to_char(s.month, 'YYYY-MM')"
		                  : "to_char(date_trunc('year', s.month::timestamp), 'YYYY')";
		g[0].ord = month ? "s.month" : "date_trunc('year', s.month::timestamp)";
	} else {
		g[0].expr = month ? "to_char(s.date, 'YYYY-MM')" : "to_char(s.date, 'YYYY')";
		g[0].ord = NULL;
	}
	g[1].on = q->level >= Q_LEVEL_NODE;      g[1].expr = "n.name::text";
	g[2].on = q->level >= Q_LEVEL_NETWORK;   g[2].expr = "s.network::text";
	g[3].on = q->level >= Q_LEVEL_STATION;   g[3].expr = "s.station::text";
	g[4].on = q->level >= Q_LEVEL_LOCATION;  g[4].expr = "s.location::text";
	g[5].on = q->level >= Q_LEVEL_CHANNEL;   g[5].expr = "s.channel::text";
	g[6].on = cdet;                          g[6].expr = "s.country::text";
	for (int i = 1; i < 7; i++)
		g[i].ord = NULL;

	sb_add(&b, "SELECT ");
	for (int i = 0; i < 7; i++) {
		char ob[96];

		sb_add(&b, g[i].on ? g[i].expr : "NULL::text");
		if (g[i].on && roll && i > 0)
			sb_add(&b, " COLLATE \"C\"");
		sb_add(&b, ", ");
		if (!g[i].on)
			continue;
		if (roll) {
			snprintf(ob, sizeof(ob), "%s%s%s", group[0] ? ", " : "",
			         g[i].ord ? g[i].ord : g[i].expr, i > 0 ? " COLLATE \"C\"" : "");
			strcat(group, ob);
			strcat(order, ob);
			continue;
		}
		if (group[0])
			strcat(group, ", ");
		strcat(group, g[i].expr);
		snprintf(ob, sizeof(ob), "%s%s COLLATE \"C\"", order[0] ? ", " : "", g[i].expr);
		strcat(order, ob);
	}
	if (one_row)
		sb_add(&b, "coalesce(s.bytes, 0)::text, coalesce(s.nb_reqs, 0)::text, "
		       "coalesce(s.nb_successful_reqs, 0)::text, ");
	else
		sb_add(&b, "coalesce(sum(s.bytes), 0)::text, coalesce(sum(s.nb_reqs), 0)::text, "
		       "coalesce(sum(s.nb_successful_reqs), 0)::text, hll_union_agg(s.clients), ");
	/* Rows of dataselect_rollup answered as they are: their counts, and sets only where needed. */
	cards = one_row && roll == 1 && p && !q->hllvalues;
	if (cards)
		sb_clients_when_folded(&b, q, p, groups, ngroups);
	else if (one_row)
		sb_add(&b, "s.clients, ");
	sb_add(&b, g[6].on ? "'t'" : "'f'");
	sb_add(&b, cards ? ", s.clients_card::text" : ", NULL::text");
	sb_add(&b, roll == 4 ? " FROM dataselect_rollup_node_year_country s"
	       : roll == 3 ? " FROM dataselect_rollup_node s" : roll == 2 ? " FROM dataselect_rollup_country s"
	       : roll ? " FROM dataselect_rollup s" : " FROM dataselect_stats s");
	sb_add(&b, " JOIN nodes n ON n.id = s.node_id WHERE ");
	snprintf(day, sizeof(day), "%04d-%02d-01", q->start / 12, q->start % 12 + 1);
	sb_add(&b, dcol);
	sb_add(&b, " >= ");
	sb_param(&b, day, "::date");
	if (q->has_end) {
		int e1 = q->end + 1;

		snprintf(day, sizeof(day), "%04d-%02d-01", e1 / 12, e1 % 12 + 1);
		sb_add(&b, " AND ");
		sb_add(&b, dcol);
		sb_add(&b, " < ");
		sb_param(&b, day, "::date");
	}
	sb_filter(&b, "n.name", &q->node, 0);
	sb_filter(&b, "s.network", &q->network, restricted);
	sb_filter(&b, "s.station", &q->station, 1);
	sb_filter(&b, "s.location", &q->location, 1);
	sb_filter(&b, "s.channel", &q->channel, 1);
	sb_filter(&b, "s.country", &q->country, 0);
	if (cards) {
		/*
		 * By month only, which the index on month gives without a sort
		 * (the sort of the whole answer was most of the database's work):
		 * the renderer orders each month's rows (q_render_sort_dates()).
		 */
		sb_add(&b, " ORDER BY s.month");
	} else if (one_row) {
		sb_add(&b, " ORDER BY ");
		sb_add(&b, order);
	} else if (group[0]) {
		sb_add(&b, " GROUP BY ");
		sb_add(&b, group);
		sb_add(&b, " ORDER BY ");
		/* NULL country last (ASC default), so Other rows of a date follow predictably. */
		sb_add(&b, order);
	} else {
		/* Without grouping an empty match gives one all-NULL row: drop it. */
		sb_add(&b, " HAVING count(*) > 0");
	}
	if (b.err) {
		free(b.buf);
		for (size_t i = 0; i < b.np; i++)
			free(b.params[i]);
		free(b.params);
		return b.err;
	}
	out->text = b.buf;
	out->params = b.params;
	out->nparams = b.np;
	out->rollup = roll;
	out->date_order = cards;
	return 0;
}
