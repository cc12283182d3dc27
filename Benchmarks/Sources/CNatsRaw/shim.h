#ifndef CNATSRAW_SHIM_H
#define CNATSRAW_SHIM_H
// The raw cnats baseline for the benchmarks (the library itself uses CNats from the root package).
#include <nats/nats.h>
#endif
