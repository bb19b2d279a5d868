#ifndef ES_CFG_H
#define ES_CFG_H
/* Filled in by its module owner. */
#endif
