/* svg.c - inline SVG charts and the text helpers of the HTML reports (svg.h). */
#include "config.h"

#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cal.h"
#include "error.h"
#include "utf8.h"

/* Series colours (Okabe-Ito, readable by most colour-blind readers) and dash patterns. */
static const char *const colour[] = { "#0072b2", "#e69f00", "#009e73", "#cc79a7" };
static const char *const dash[] = { "", "6 3", "2 3", "8 3 2 3" };

int svg_printf(jsonw_t *w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		if (!w->err)
			w->err = ES_ELIMIT;
		return w->err;
	}
	return jsonw_raw(w, buf, (size_t)n);
}

static int esc_n(jsonw_t *w, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), i = 0, chars = 0;

	while (i < len) {
		uint32_t cp;
		size_t k = utf8_decode(p + i, len - i, &cp);

		if (chars == max) {
			jsonw_raw(w, "\xe2\x80\xa6", 3);
			break;
		}
		chars++;
		if (k == 0 || (cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0x7f) {
			jsonw_raw(w, "\xef\xbf\xbd", 3);
			i += k ? k : 1;
			continue;
		}
		switch (cp) {
		case '&': jsonw_raw(w, "&amp;", 5); break;
		case '<': jsonw_raw(w, "&lt;", 4); break;
		case '>': jsonw_raw(w, "&gt;", 4); break;
		case '"': jsonw_raw(w, "&quot;", 6); break;
		case '\'': jsonw_raw(w, "&#39;", 5); break;
		default: jsonw_raw(w, (const char *)p + i, k);
		}
		i += k;
	}
	return jsonw_error(w);
}

int svg_esc(jsonw_t *w, const char *s)
{
	return esc_n(w, s, SIZE_MAX);
}

int svg_esc_trunc(jsonw_t *w, const char *s, size_t max)
{
	return esc_n(w, s, max);
}

char *svg_fmt_value(char *buf, size_t cap, double v, enum svg_unit unit)
{
	static const char *const cnt[] = { "", "k", "M", "G", "T", "P", "E" };
	static const char *const byt[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double base = unit == SVG_BYTES ? 1024.0 : 1000.0;
	const char *const *sfx = unit == SVG_BYTES ? byt : cnt;
	const char *sep = unit == SVG_BYTES ? " " : "";
	int i = 0;

	if (!(v >= 0) || isinf(v)) {
		snprintf(buf, cap, "n/a");
		return buf;
	}
	if (v < base) {
		snprintf(buf, cap, "%.0f%s%s", v, sep, sfx[0]);
		return buf;
	}
	while (v >= base && i < 6) {
		v /= base;
		i++;
	}
	/* Three significant digits; rounding 999.5 up to 1000 moves to the next unit. */
	if (v >= 999.5 && i < 6) {
		v /= base;
		i++;
	}
	if (v < 9.995)
		snprintf(buf, cap, "%.2f%s%s", v, sep, sfx[i]);
	else if (v < 99.95)
		snprintf(buf, cap, "%.1f%s%s", v, sep, sfx[i]);
	else
		snprintf(buf, cap, "%.0f%s%s", v, sep, sfx[i]);
	return buf;
}

char *svg_fmt_int(char *buf, size_t cap, double v)
{
	char digits[40];
	size_t n, o = 0;

	if (!(v >= 0) || v >= 1e30) {
		snprintf(buf, cap, "n/a");
		return buf;
	}
	snprintf(digits, sizeof(digits), "%.0f", v);
	n = strlen(digits);
	for (size_t i = 0; i < n; i++) {
		int comma = i > 0 && (n - i) % 3 == 0;

		if (o + (size_t)comma + 1 >= cap)
			break;
		if (comma)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

void svg_ticks(double max, int want, enum svg_unit unit, double *step, int *n)
{
	double scale = 1, raw, mag, s;

	if (want < 1)
		want = 1;
	if (!(max > 0) || isinf(max)) {
		*step = 1;
		*n = 1;
		return;
	}
	if (unit == SVG_BYTES)
		while (max / scale >= 1024)
			scale *= 1024;
	raw = max / scale / want;
	mag = pow(10, floor(log10(raw)));
	if (raw <= mag)
		s = mag;
	else if (raw <= 2 * mag)
		s = 2 * mag;
	else if (raw <= 5 * mag)
		s = 5 * mag;
	else
		s = 10 * mag;
	/* Whole bytes and whole requests: a step below 1 says nothing. */
	if (s * scale < 1)
		s = 1 / scale;
	*step = s * scale;
	*n = (int)ceil(max / *step - 1e-9);
	if (*n < 1)
		*n = 1;
}

/* A tick value: svg_fmt_value() without trailing zeros ("2M", "1.5 GiB", "500k"). */
static char *tick_label(char *buf, size_t cap, double v, enum svg_unit unit)
{
	char *dot, *e, *z;

	svg_fmt_value(buf, cap, v, unit);
	dot = strchr(buf, '.');
	if (!dot)
		return buf;
	for (e = dot + 1; *e >= '0' && *e <= '9'; e++)
		;
	z = e;
	while (z > dot + 1 && z[-1] == '0')
		z--;
	if (z == dot + 1)
		z = dot;
	memmove(z, e, strlen(e) + 1);
	return buf;
}

/* The opening of a chart: sizes, accessible title and description, visible title. */
static void open_svg(jsonw_t *w, int width, int height, const char *title, const char *desc)
{
	svg_printf(w, "<svg class=\"chart\" role=\"img\" "
	           "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"><title>", width, height,
	           width, height);
	svg_esc(w, title);
	jsonw_lit(w, "</title><desc>");
	svg_esc(w, desc);
	jsonw_lit(w, "</desc><text class=\"ct\" x=\"8\" y=\"20\">");
	svg_esc(w, title);
	jsonw_lit(w, "</text>");
}

int svg_bars(jsonw_t *w, const char *title, const char *desc, const char *axis,
             enum svg_unit unit, const struct svg_bar *bars, size_t n)
{
	const int row = 22, top = 36;
	double max = 0, step, end;
	int nt, height, plot_h;
	char v[32], t[32];

	for (size_t i = 0; i < n; i++)
		if (bars[i].value > max)
			max = bars[i].value;
	svg_ticks(max, 4, unit, &step, &nt);
	end = step * nt;
	plot_h = (int)(n ? n : 1) * row;
	height = top + plot_h + 44;
	open_svg(w, 640, height, title, desc);
	/* Grid and tick labels. */
	for (int i = 0; i <= nt; i++) {
		double x = SVG_BAR_X0 + SVG_BAR_W * (double)i / nt;

		svg_printf(w, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
		           "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
		           x, top - 4, x, top + plot_h, x, top + plot_h + 14,
		           tick_label(t, sizeof(t), step * i, unit));
	}
	svg_printf(w, "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
	           SVG_BAR_X0 + SVG_BAR_W / 2, top + plot_h + 34);
	svg_esc(w, axis);
	jsonw_lit(w, "</text>");
	if (n == 0)
		svg_printf(w, "<text class=\"empty\" x=\"%d\" y=\"%d\">no data</text>",
		           SVG_BAR_X0 + 8, top + 15);
	for (size_t i = 0; i < n; i++) {
		int y = top + (int)i * row;
		double bw = bars[i].value > 0 ? SVG_BAR_W * bars[i].value / end : 0;

		jsonw_lit(w, "<g><title>");
		svg_esc(w, bars[i].label);
		svg_printf(w, ": %s", svg_fmt_value(v, sizeof(v), bars[i].value, unit));
		if (bars[i].note) {
			jsonw_lit(w, " (");
			svg_esc(w, bars[i].note);
			jsonw_lit(w, ")");
		}
		svg_printf(w, "</title><text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"end\">",
		           SVG_BAR_X0 - 6, y + 15);
		svg_esc_trunc(w, bars[i].label, 22);
		svg_printf(w, "</text><rect class=\"bar%s\" x=\"%d\" y=\"%d\" width=\"%.2f\" "
		           "height=\"%d\"/><text class=\"val\" x=\"%.1f\" y=\"%d\">%s",
		           bars[i].flag ? " warn" : "", SVG_BAR_X0, y + 3, bw, row - 6,
		           SVG_BAR_X0 + bw + 4, y + 15, v);
		if (bars[i].note) {
			jsonw_lit(w, " \xe2\x9a\xa0 ");
			svg_esc(w, bars[i].note);
		}
		jsonw_lit(w, "</text></g>");
	}
	svg_printf(w, "<line class=\"axisl\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/></svg>",
	           SVG_BAR_X0, top - 4, SVG_BAR_X0, top + plot_h);
	return jsonw_error(w);
}

int svg_line(jsonw_t *w, const char *title, const char *desc, const char *axis,
             enum svg_unit unit, const char *const *xlabels, size_t n,
             const struct svg_series *series, size_t nseries)
{
	const int height = SVG_LINE_Y0 + SVG_LINE_H + 60;
	double max = 0, step, end, dx;
	size_t every;
	int nt;
	char t[32];

	if (n < 1 || n > 120 || nseries < 1 || nseries > 4)
		return ES_EINTERNAL;
	for (size_t s = 0; s < nseries; s++)
		for (size_t i = 0; i < n; i++)
			if (series[s].v[i] > max)
				max = series[s].v[i];
	svg_ticks(max, 4, unit, &step, &nt);
	end = step * nt;
	dx = n > 1 ? (double)SVG_LINE_W / (double)(n - 1) : 0;
	/* A label takes about 50 units; print every k-th. */
	every = 1;
	while (n > 1 && dx * (double)every < 52)
		every++;
	open_svg(w, 640, height, title, desc);
	for (int i = 0; i <= nt; i++) {
		double y = SVG_LINE_Y0 + SVG_LINE_H - SVG_LINE_H * (double)i / nt;

		svg_printf(w, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
		           "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
		           SVG_LINE_X0, y, SVG_LINE_X0 + SVG_LINE_W, y, SVG_LINE_X0 - 6, y + 4,
		           tick_label(t, sizeof(t), step * i, unit));
	}
	for (size_t i = 0; i < n; i++) {
		double x = SVG_LINE_X0 + dx * (double)i;

		if ((n - 1 - i) % every != 0)
			continue;
		svg_printf(w, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
		           x, SVG_LINE_Y0 + SVG_LINE_H + 16);
		svg_esc(w, xlabels[i]);
		jsonw_lit(w, "</text>");
	}
	svg_printf(w, "<text class=\"axis\" transform=\"translate(14 %d) rotate(-90)\" "
	           "text-anchor=\"middle\">", SVG_LINE_Y0 + SVG_LINE_H / 2);
	svg_esc(w, axis);
	svg_printf(w, "</text><text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
	           "Month</text>", SVG_LINE_X0 + SVG_LINE_W / 2, SVG_LINE_Y0 + SVG_LINE_H + 34);
	for (size_t s = 0; s < nseries; s++) {
		svg_printf(w, "<g class=\"series\"><polyline fill=\"none\" stroke=\"%s\" "
		           "stroke-width=\"2\"%s%s%s points=\"", colour[s],
		           *dash[s] ? " stroke-dasharray=\"" : "", dash[s], *dash[s] ? "\"" : "");
		for (size_t i = 0; i < n; i++) {
			double v = series[s].v[i] > 0 ? series[s].v[i] : 0;

			svg_printf(w, "%s%.1f,%.1f", i ? " " : "", SVG_LINE_X0 + dx * (double)i,
			           SVG_LINE_Y0 + SVG_LINE_H - SVG_LINE_H * v / end);
		}
		jsonw_lit(w, "\"/>");
		for (size_t i = 0; i < n; i++) {
			double v = series[s].v[i] > 0 ? series[s].v[i] : 0;

			svg_printf(w, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>",
			           SVG_LINE_X0 + dx * (double)i,
			           SVG_LINE_Y0 + SVG_LINE_H - SVG_LINE_H * v / end, colour[s]);
			svg_esc(w, xlabels[i]);
			jsonw_lit(w, " ");
			svg_esc(w, series[s].label);
			svg_printf(w, ": %s</title></circle>", svg_fmt_value(t, sizeof(t), v, unit));
		}
		jsonw_lit(w, "</g>");
		/* Legend, top right, one entry per series. */
		if (nseries > 1) {
			int lx = SVG_LINE_X0 + SVG_LINE_W - 150 * (int)(nseries - s);

			svg_printf(w, "<line x1=\"%d\" y1=\"30\" x2=\"%d\" y2=\"30\" stroke=\"%s\" "
			           "stroke-width=\"2\"%s%s%s/><text class=\"lbl\" x=\"%d\" y=\"34\">",
			           lx, lx + 24, colour[s], *dash[s] ? " stroke-dasharray=\"" : "",
			           dash[s], *dash[s] ? "\"" : "", lx + 28);
			svg_esc_trunc(w, series[s].label, 18);
			jsonw_lit(w, "</text>");
		}
	}
	svg_printf(w, "<line class=\"axisl\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/></svg>",
	           SVG_LINE_X0, SVG_LINE_Y0 + SVG_LINE_H, SVG_LINE_X0 + SVG_LINE_W,
	           SVG_LINE_Y0 + SVG_LINE_H);
	return jsonw_error(w);
}

int svg_share(jsonw_t *w, const char *title, const char *desc,
              const struct svg_part *parts, size_t nparts)
{
	const int x0 = 20, bw = 600, y0 = 34, bh = 28;
	static const char *const fill[] = { "#009e73", "#d55e00", "#0072b2", "#e69f00" };
	double total = 0, x = x0;

	if (nparts > 4)
		return ES_EINTERNAL;
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].value > 0)
			total += parts[i].value;
	open_svg(w, 640, 110, title, desc);
	svg_printf(w, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>",
	           x0, y0, bw, bh);
	if (!(total > 0))
		svg_printf(w, "<text class=\"empty\" x=\"%d\" y=\"%d\">no requests</text>",
		           x0 + 8, y0 + 19);
	for (size_t i = 0; i < nparts; i++) {
		double v = parts[i].value > 0 ? parts[i].value : 0;
		double pw = total > 0 ? bw * v / total : 0;
		double pct = total > 0 ? 100 * v / total : 0;
		int lx = x0 + (int)i * 300;

		if (pw > 0) {
			svg_printf(w, "<rect class=\"part\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
			           "height=\"%d\" fill=\"%s\"%s><title>", x, y0, pw, bh, fill[i],
			           i % 2 ? " fill-opacity=\"0.85\"" : "");
			svg_esc(w, parts[i].label);
			svg_printf(w, ": %.1f %%</title></rect>", pct);
		}
		x += pw;
		svg_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		           "<text class=\"lbl\" x=\"%d\" y=\"%d\">", lx, y0 + bh + 16, fill[i],
		           lx + 16, y0 + bh + 27);
		svg_esc_trunc(w, parts[i].label, 24);
		svg_printf(w, ": %.1f %%</text>", pct);
	}
	jsonw_lit(w, "</svg>");
	return jsonw_error(w);
}

int svg_coverage(jsonw_t *w, const char *title, const char *desc,
                 int y, int m, int d, size_t ndays, const uint8_t *covered)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	const int cell = 18, x0 = 44, top = 44;
	int rows = 1, r = 0, cy = y, cm = m;
	size_t i;

	if (ndays < 1 || ndays > 366 || !cal_valid_ymd(y, m, d))
		return ES_EINTERNAL;
	/* Count the months the days span. */
	{
		int yy = y, mm = m, dd = d;

		for (i = 1; i < ndays; i++) {
			if (++dd > cal_days_in_month(yy, mm)) {
				dd = 1;
				rows++;
				if (++mm > 12) {
					mm = 1;
					yy++;
				}
			}
		}
	}
	open_svg(w, 640, top + rows * (cell + 4) + 8, title, desc);
	for (int c = 1; c <= 31; c++)
		if (c == 1 || c % 5 == 0)
			svg_printf(w, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
			           "%d</text>", x0 + (c - 1) * (cell + 1) + cell / 2, top - 6, c);
	svg_printf(w, "<text class=\"lbl\" x=\"4\" y=\"%d\">%s</text>", top + 13, mon[m - 1]);
	for (i = 0; i < ndays; i++) {
		int cx = x0 + (d - 1) * (cell + 1), yy = top + r * (cell + 4);

		if (covered[i])
			svg_printf(w, "<rect class=\"day ok\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\">"
			           "<title>%04d-%02d-%02d: statistics received</title></rect>",
			           cx, yy, cell, cell, cy, cm, d);
		else
			svg_printf(w, "<g class=\"day miss\"><title>%04d-%02d-%02d: missing</title>"
			           "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
			           "<path d=\"M%d %dl%d %dm0 -%dl-%d %d\"/></g>", cy, cm, d,
			           cx, yy, cell, cell, cx + 4, yy + 4, cell - 8, cell - 8, cell - 8,
			           cell - 8, cell - 8);
		if (++d > cal_days_in_month(cy, cm) && i + 1 < ndays) {
			d = 1;
			r++;
			if (++cm > 12) {
				cm = 1;
				cy++;
			}
			svg_printf(w, "<text class=\"lbl\" x=\"4\" y=\"%d\">%s</text>",
			           top + r * (cell + 4) + 13, mon[cm - 1]);
		}
	}
	jsonw_lit(w, "</svg>");
	return jsonw_error(w);
}
