#ifndef ES_PAYLOAD_H
#define ES_PAYLOAD_H
/* Filled in by its module owner. */
#endif
