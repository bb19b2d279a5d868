#include "config.h"

#include "unit.h"

/* Tests of the reader module are added by its owner. */
typedef int unit_reader_placeholder;
