/*
 * period.c - months and years of the reports (period.h).
 */
#include "period.h"

#include <stdio.h>
#include <string.h>

#include "cal.h"
#include "error.h"

static int digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int rpt_period_parse_month(const char *s, struct rpt_period *p)
{
	if (!s || strlen(s) != 7 || s[4] != '-' || !digits(s, 4) || !digits(s + 5, 2))
		return ES_EFORMAT;
	p->kind = RPT_MONTH;
	p->year = num(s, 4);
	p->month = num(s + 5, 2);
	if (p->year < 1 || p->month < 1 || p->month > 12)
		return ES_EFORMAT;
	return 0;
}

int rpt_period_parse_year(const char *s, struct rpt_period *p)
{
	if (!s || strlen(s) != 4 || !digits(s, 4))
		return ES_EFORMAT;
	p->kind = RPT_YEAR;
	p->year = num(s, 4);
	p->month = 0;
	return p->year < 1 ? ES_EFORMAT : 0;
}

int rpt_period_parse(const char *s, struct rpt_period *p)
{
	if (s && strlen(s) == 4)
		return rpt_period_parse_year(s, p);
	return rpt_period_parse_month(s, p);
}

void rpt_period_name(const struct rpt_period *p, char *out)
{
	if (p->kind == RPT_YEAR)
		snprintf(out, RPT_PERIOD_NAME, "%04u", (unsigned)p->year % 10000u);
	else
		snprintf(out, RPT_PERIOD_NAME, "%04u-%02u", (unsigned)p->year % 10000u, (unsigned)p->month % 100u);
}

const char *rpt_period_kind(const struct rpt_period *p)
{
	return p->kind == RPT_YEAR ? "year" : "month";
}

int rpt_period_first(const struct rpt_period *p)
{
	return p->year * 12 + (p->kind == RPT_YEAR ? 0 : p->month - 1);
}

int rpt_period_months(const struct rpt_period *p)
{
	return p->kind == RPT_YEAR ? 12 : 1;
}

int rpt_period_days(const struct rpt_period *p)
{
	if (p->kind == RPT_YEAR)
		return cal_is_leap(p->year) ? 366 : 365;
	return cal_days_in_month(p->year, p->month);
}

void rpt_period_prev(const struct rpt_period *p, struct rpt_period *out)
{
	*out = *p;
	if (p->kind == RPT_YEAR || p->month == 1)
		out->year--;
	if (p->kind == RPT_MONTH)
		out->month = p->month == 1 ? 12 : p->month - 1;
}

void rpt_period_year_before(const struct rpt_period *p, struct rpt_period *out)
{
	*out = *p;
	out->year--;
}

int rpt_period_complete(const struct rpt_period *p, time_t now)
{
	struct tm tm;
	int next = rpt_period_first(p) + rpt_period_months(p);

	if (!gmtime_r(&now, &tm))
		return 0;
	/* Over when today's month comes at or after the month following the period. */
	return (tm.tm_year + 1900) * 12 + tm.tm_mon >= next;
}

void rpt_month_day(int index, char *out)
{
	snprintf(out, RPT_DAY_TEXT, "%04u-%02u-01", (unsigned)(index / 12) % 10000u, (unsigned)(index % 12 + 1) % 100u);
}

void rpt_month_name(int index, char *out)
{
	snprintf(out, RPT_PERIOD_NAME, "%04u-%02u", (unsigned)(index / 12) % 10000u, (unsigned)(index % 12 + 1) % 100u);
}

void rpt_period_day(const struct rpt_period *p, int d, char *out)
{
	int m = p->kind == RPT_YEAR ? 1 : p->month;

	while (m < 12 && d >= cal_days_in_month(p->year, m)) {
		d -= cal_days_in_month(p->year, m);
		m++;
	}
	snprintf(out, RPT_DAY_TEXT, "%04u-%02u-%02u", (unsigned)p->year % 10000u, (unsigned)m % 100u, (unsigned)(d + 1) % 100u);
}

int rpt_period_day_index(const struct rpt_period *p, const char *day)
{
	int y, m, d, idx = 0;

	if (!day || cal_parse_ymd(day, strlen(day), &y, &m, &d) < 0 || y != p->year)
		return -1;
	if (p->kind == RPT_MONTH)
		return m == p->month ? d - 1 : -1;
	for (int i = 1; i < m; i++)
		idx += cal_days_in_month(y, i);
	return idx + d - 1;
}
