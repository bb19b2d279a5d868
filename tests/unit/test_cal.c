#include "config.h"

#include "cal.h"
#include "unit.h"

TEST(cal_days_in_month)
{
	ASSERT_EQ(cal_days_in_month(2024, 2), 29);
	ASSERT_EQ(cal_days_in_month(2023, 2), 28);
	ASSERT_EQ(cal_days_in_month(2100, 2), 28);
	ASSERT_EQ(cal_days_in_month(2000, 2), 29);
	ASSERT_EQ(cal_days_in_month(2024, 12), 31);
	ASSERT_EQ(cal_days_in_month(2024, 11), 30);
	ASSERT_EQ(cal_days_in_month(2024, 0), 0);
	ASSERT_EQ(cal_days_in_month(2024, 13), 0);
	ASSERT(cal_is_leap(1600) && !cal_is_leap(1700) && cal_is_leap(1996) && !cal_is_leap(1997));
}

TEST(cal_valid_ymd)
{
	ASSERT(cal_valid_ymd(1, 1, 1));
	ASSERT(cal_valid_ymd(9999, 12, 31));
	ASSERT(!cal_valid_ymd(0, 1, 1));
	ASSERT(!cal_valid_ymd(10000, 1, 1));
	ASSERT(!cal_valid_ymd(2024, 2, 30));
	ASSERT(!cal_valid_ymd(2024, 4, 31));
	ASSERT(!cal_valid_ymd(2024, 1, 0));
	ASSERT(!cal_valid_ymd(2024, 0, 1));
}

TEST(cal_parse_ymd)
{
	static const char *const bad[] = {
		"2024-1-01", "2024-01-1", "24-01-01", "2024/01/01", "2024-01-01 ",
		"2023-02-29", "2024-13-01", "2024-00-10", "0000-01-01", "2024-06-31",
		"2024-01-0a", "+024-01-01", "",
	};
	int y = 0, m = 0, d = 0;

	ASSERT_OK(cal_parse_ymd("2024-02-29", 10, &y, &m, &d));
	ASSERT_EQ(y, 2024);
	ASSERT_EQ(m, 2);
	ASSERT_EQ(d, 29);
	/* Only len bytes count: no NUL needed after them. */
	ASSERT_OK(cal_parse_ymd("1999-12-31T23:59", 10, NULL, NULL, NULL));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cal_parse_ymd(bad[i], strlen(bad[i]), &y, &m, &d) != ES_EFORMAT)
			unit_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
}

/* Against a walk day by day from 0001-01-01 (-719162) to 9999-12-31, every day of every month. */
TEST(cal_days_since_epoch_every_day)
{
	long want = -719162;

	for (int y = 1; y <= 9999; y++)
		for (int m = 1; m <= 12; m++)
			for (int d = 1; d <= cal_days_in_month(y, m); d++, want++)
				if (cal_days_since_epoch(y, m, d) != want) {
					ASSERT_EQ(cal_days_since_epoch(y, m, d), want);
					return;
				}
	ASSERT_EQ(want, 2932897L);
	ASSERT_EQ(cal_days_since_epoch(1970, 1, 1), 0);
	ASSERT_EQ(cal_days_since_epoch(2000, 1, 1), CAL_DAYS_1970_TO_2000);
	ASSERT_EQ(cal_days_since_epoch(2024, 2, 29), 19782);
}
