#include "config.h"

#include "unit.h"

/* Tests of the spool module are added by its owner. */
typedef int unit_spool_placeholder;
