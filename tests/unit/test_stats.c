#include "config.h"

#include "unit.h"

/* Tests of the stats module are added by its owner. */
typedef int unit_stats_placeholder;
