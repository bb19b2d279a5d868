#ifndef ES_LEDGER_H
#define ES_LEDGER_H
/* Filled in by its module owner. */
#endif
