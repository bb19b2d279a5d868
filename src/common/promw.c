#include "config.h"

#include <stdio.h>

#include "promw.h"

int promw_label(jsonw_t *w, const char *v)
{
	const char *run = v;

	for (; *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		jsonw_raw(w, run, (size_t)(v - run));
		jsonw_lit(w, esc);
		run = v + 1;
	}
	return jsonw_raw(w, run, (size_t)(v - run));
}

void promw_head(jsonw_t *w, const char *name, const char *type, const char *help)
{
	jsonw_lit(w, "# HELP ");
	jsonw_lit(w, name);
	jsonw_lit(w, " ");
	jsonw_lit(w, help);
	jsonw_lit(w, "\n# TYPE ");
	jsonw_lit(w, name);
	jsonw_lit(w, " ");
	jsonw_lit(w, type);
	jsonw_lit(w, "\n");
}

void promw_sample(jsonw_t *w, const char *name, const char *k, const char *v, const char *k2,
                  const char *v2, const char *value)
{
	jsonw_lit(w, name);
	if (k) {
		jsonw_lit(w, "{");
		jsonw_lit(w, k);
		jsonw_lit(w, "=\"");
		promw_label(w, v);
		if (k2) {
			jsonw_lit(w, "\",");
			jsonw_lit(w, k2);
			jsonw_lit(w, "=\"");
			promw_label(w, v2);
		}
		jsonw_lit(w, "\"}");
	}
	jsonw_lit(w, " ");
	jsonw_lit(w, value);
	jsonw_lit(w, "\n");
}

void promw_u64(jsonw_t *w, const char *name, const char *k, const char *v, uint64_t value)
{
	char text[24];

	snprintf(text, sizeof text, "%llu", (unsigned long long)value);
	promw_sample(w, name, k, v, NULL, NULL, text);
}

void promw_f64(jsonw_t *w, const char *name, const char *k, const char *v, double value)
{
	char text[32];

	snprintf(text, sizeof text, "%.17g", value);
	promw_sample(w, name, k, v, NULL, NULL, text);
}
