#ifndef ES_STATS_H
#define ES_STATS_H
/* Filled in by its module owner. */
#endif
