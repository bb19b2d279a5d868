#include "config.h"

#include "cal.h"
#include "error.h"

int cal_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int cal_days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month < 1 || month > 12)
		return 0;
	return month == 2 && cal_is_leap(year) ? 29 : days[month - 1];
}

int cal_valid_ymd(int year, int month, int day)
{
	return year >= 1 && year <= 9999 && day >= 1 && day <= cal_days_in_month(year, month);
}

long cal_days_since_epoch(int year, int month, int day)
{
	/* Years counted from March, so that the leap day ends a year (no branch on February). */
	long y = month <= 2 ? year - 1 : year;
	long era = y / 400;                       /* year >= 1, so never negative */
	long yoe = y - era * 400;                 /* [0, 399] */
	long doy = (153L * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

int cal_parse_ymd(const char *s, size_t len, int *year, int *month, int *day)
{
	int y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
	    !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d) || !cal_valid_ymd(y, m, d))
		return ES_EFORMAT;
	if (year)
		*year = y;
	if (month)
		*month = m;
	if (day)
		*day = d;
	return 0;
}
