/*
 * cal.h - the proleptic Gregorian calendar: leap years, month lengths and
 * strict "YYYY-MM-DD" dates.
 *
 * The one place that knows how long a month is; every date check of the
 * node (request dates, network registry dates, `since`), the central side
 * (payload days) and the admin tool (token expiry) goes through it.  Years
 * run from 1 to 9999; year 0 does not exist.
 *
 * Pure functions: no state, any thread.
 */
#ifndef ES_CAL_H
#define ES_CAL_H

#include <stddef.h>

/* 1 if year is a leap year (divisible by 4, except centuries not divisible by 400). */
int cal_is_leap(int year);
/* Days in month (1-12) of year: 28-31; 0 for a month outside 1-12. */
int cal_days_in_month(int year, int month);
/* 1 if year (1-9999), month (1-12) and day name a day that exists, else 0. */
int cal_valid_ymd(int year, int month, int day);
/*
 * Parses exactly "YYYY-MM-DD" (len bytes, no NUL needed; four, two and two
 * ASCII digits) naming a day that exists.  0 with *year, *month, *day set
 * (each may be NULL), else ES_EFORMAT.
 */
int cal_parse_ymd(const char *s, size_t len, int *year, int *month, int *day);
/*
 * Days from 1970-01-01 to the day year-month-day (negative before it); the
 * arguments must name a day that exists (cal_valid_ymd()).  PostgreSQL's
 * binary `date` counts from 2000-01-01: subtract CAL_DAYS_1970_TO_2000.
 */
long cal_days_since_epoch(int year, int month, int day);
#define CAL_DAYS_1970_TO_2000 10957L

#endif
