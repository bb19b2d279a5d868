/*
 * period.h - the periods of eidastats-report: a calendar month ("2025-01")
 * or a calendar year ("2025"), their bounds, neighbours and whether they are
 * over.  Months are counted as year * 12 + (month - 1) ("month index").
 *
 * Pure functions on values: no state, any thread.
 */
#ifndef ES_REPORT_PERIOD_H
#define ES_REPORT_PERIOD_H

#include <time.h>

enum rpt_kind { RPT_MONTH = 0, RPT_YEAR = 1 };

struct rpt_period {
	enum rpt_kind kind;
	int year;               /* 1..9999 */
	int month;              /* 1..12 for RPT_MONTH, 0 for RPT_YEAR */
};

/* Buffer bytes for a period's name ("2025-01" or "2025"; 8 would do). */
#define RPT_PERIOD_NAME 16
/* Buffer bytes for a day "YYYY-MM-DD" (11 would do). */
#define RPT_DAY_TEXT 16

/* Parses exactly "YYYY-MM" (month 01-12, year 0001-9999).  0 or ES_EFORMAT. */
int rpt_period_parse_month(const char *s, struct rpt_period *p);
/* Parses exactly "YYYY" (0001-9999).  0 or ES_EFORMAT. */
int rpt_period_parse_year(const char *s, struct rpt_period *p);
/* Parses either form (a directory name).  0 or ES_EFORMAT. */
int rpt_period_parse(const char *s, struct rpt_period *p);
/* "2025-01" or "2025" into out (RPT_PERIOD_NAME bytes). */
void rpt_period_name(const struct rpt_period *p, char *out);
/* "month" or "year". */
const char *rpt_period_kind(const struct rpt_period *p);
/* Month index of the period's first month, and its number of months (1 or 12). */
int rpt_period_first(const struct rpt_period *p);
int rpt_period_months(const struct rpt_period *p);
/* Days of the period (28..366). */
int rpt_period_days(const struct rpt_period *p);
/* The period before (previous month or year) and the same period a year before. */
void rpt_period_prev(const struct rpt_period *p, struct rpt_period *out);
void rpt_period_year_before(const struct rpt_period *p, struct rpt_period *out);
/* 1 when the whole period lies before the UTC day of now. */
int rpt_period_complete(const struct rpt_period *p, time_t now);
/* "YYYY-MM-01" of a month index (RPT_DAY_TEXT bytes); index 0 .. 9999*12+11. */
void rpt_month_day(int index, char *out);
/* "YYYY-MM" of a month index (RPT_PERIOD_NAME bytes). */
void rpt_month_name(int index, char *out);
/* Day number d (0-based) of the period as "YYYY-MM-DD" (RPT_DAY_TEXT bytes). */
void rpt_period_day(const struct rpt_period *p, int d, char *out);
/* The 0-based day number in the period of "YYYY-MM-DD", or -1 when outside or malformed. */
int rpt_period_day_index(const struct rpt_period *p, const char *day);

#endif
