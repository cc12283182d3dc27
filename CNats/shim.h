#ifndef CNATS_SHIM_H
#define CNATS_SHIM_H

// The modern header: the old <nats.h> prints a deprecation warning, and warnings are errors here.
#include <nats/nats.h>

#endif
