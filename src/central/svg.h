/*
 * svg.h - inline SVG charts for the HTML reports (rhtml.h), and the text
 * helpers they share: HTML/XML escaping, numbers formatted for people, and
 * "nice" axis ticks.
 *
 * Every chart is one <svg> element with explicit width, height and viewBox
 * (so a browser sizes it before styles apply and CSS max-width:100% scales
 * it down on a phone), a <title> and <desc> for assistive technology, a
 * visible title, axis labels that name the unit, and tick values formatted
 * with svg_fmt_value().  Colours are not the only cue: series differ by dash
 * pattern too and missing days carry a cross.
 *
 * Output goes to a jsonw_t (jsonw.h) used as a plain growable text buffer
 * with a hard limit: only jsonw_raw() is used on it, so its sticky error
 * (ES_ELIMIT) is the one error a writer here can meet; the functions return
 * jsonw_error() of the buffer after writing.  The caller owns the buffer.
 * Text given to a chart (titles, labels) is escaped here; numbers are
 * doubles, exact for integers up to 2^53.
 *
 * Pure functions: no state, any thread.
 */
#ifndef ES_SVG_H
#define ES_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "jsonw.h"

/* What a value counts, which decides how it is printed. */
enum svg_unit {
	SVG_COUNT = 0,  /* Requests, clients: 950, 12.3k, 4.56M, 7.89G, 1.2T. */
	SVG_BYTES = 1   /* Bytes in binary units: 512 B, 1.5 KiB, 12.3 MiB ... EiB. */
};

/* Appends the len bytes of printf output; the text is not escaped. Longer than 1 KiB: ES_ELIMIT. */
int svg_printf(jsonw_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Appends s (NUL-terminated UTF-8 or not) escaped for HTML text and
 * attribute values: & < > " ' as entities; bytes that are not valid UTF-8
 * and control characters other than tab and newline as U+FFFD.
 */
int svg_esc(jsonw_t *w, const char *s);
/* Like svg_esc() but at most max characters, the rest replaced by "…". */
int svg_esc_trunc(jsonw_t *w, const char *s, size_t max);

/*
 * Formats v for people into buf (cap >= 16): three significant digits with
 * a unit suffix (SVG_COUNT: "", "k", "M", "G", "T", "P" by powers of 1000;
 * SVG_BYTES: "B", "KiB" ... "EiB" by powers of 1024, with a space).  Counts
 * below 1000 and byte counts below 1024 are printed whole.  Negative values
 * and NaN print as "n/a".  Returns buf.
 */
char *svg_fmt_value(char *buf, size_t cap, double v, enum svg_unit unit);
/* Formats an integral v whole with thousands separators: "1,234,567". Returns buf (cap >= 32). */
char *svg_fmt_int(char *buf, size_t cap, double v);

/*
 * Axis ticks for values 0..max: the step is 1, 2 or 5 times a power of ten
 * (SVG_BYTES: times a power of 1024 first, so ticks read "256 MiB") and
 * *n steps (want/2 <= ... roughly want, at least 1) reach or pass max.
 * max <= 0 gives step 1 and n 1.  The axis then runs to n * step.
 */
void svg_ticks(double max, int want, enum svg_unit unit, double *step, int *n);

/* One bar of a bar chart; label is the category name. */
struct svg_bar {
	const char *label;
	double value;
	int flag;        /* Non-zero: drawn in the warning style (a node with missing days). */
	const char *note;/* Optional text after the value ("missing 5 days"), or NULL. */
};

/*
 * Horizontal bar chart, one bar per entry in the given order, widths
 * proportional to value on an axis from 0 to the ticks' end.  title is shown
 * and is the <title>; desc the <desc>; axis names the measure ("Bytes").
 * n may be 0 (an empty chart saying "no data").  Geometry: the plot runs from
 * x = SVG_BAR_X0 for SVG_BAR_W units; each bar is class="bar".
 */
#define SVG_BAR_X0 170
#define SVG_BAR_W 380
int svg_bars(jsonw_t *w, const char *title, const char *desc, const char *axis,
             enum svg_unit unit, const struct svg_bar *bars, size_t n);

/* One line of a line chart: n values (the chart's n). */
struct svg_series {
	const char *label;
	const double *v;
};

/*
 * Line chart of nseries (1-4) series over n points (1-120) labelled xlabels
 * (months "2024-05"; every k-th is printed so they do not collide).  The y
 * axis starts at 0.  Each point is a circle with its own <title>.  Geometry:
 * the plot runs from x = SVG_LINE_X0 for SVG_LINE_W and from y = SVG_LINE_Y0
 * down SVG_LINE_H units.  Out-of-range n or nseries: ES_EINTERNAL.
 */
#define SVG_LINE_X0 80
#define SVG_LINE_W 520
#define SVG_LINE_Y0 40
#define SVG_LINE_H 200
int svg_line(jsonw_t *w, const char *title, const char *desc, const char *axis,
             enum svg_unit unit, const char *const *xlabels, size_t n,
             const struct svg_series *series, size_t nseries);

/*
 * One bar split into shares (successful / failed requests): parts[i] of
 * total, each labelled with its percentage, and a legend.  A zero total
 * draws an empty bar saying "no requests".
 */
struct svg_part {
	const char *label;
	double value;
};
int svg_share(jsonw_t *w, const char *title, const char *desc,
              const struct svg_part *parts, size_t nparts);

/*
 * Coverage calendar of ndays consecutive days from y-m-d (a valid date,
 * ndays 1-366): one row per month, one cell per day of the month, covered
 * days filled, missing days (covered[i] == 0) white with a cross, each cell
 * with a <title> naming its date and state.
 */
int svg_coverage(jsonw_t *w, const char *title, const char *desc,
                 int y, int m, int d, size_t ndays, const uint8_t *covered);

#endif
