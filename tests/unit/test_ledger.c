#include "config.h"

#include "unit.h"

/* Tests of the ledger module are added by its owner. */
typedef int unit_ledger_placeholder;
