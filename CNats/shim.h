#ifndef CNATS_SHIM_H
#define CNATS_SHIM_H

// The modern header: the old <nats.h> prints a deprecation warning, and warnings are errors here.
#include <nats/nats.h>
#include <stdint.h>

// cnats 3.4.1's private message layout, `struct __natsMsg` in its src/msg.h, field for field (the
// GC item is its two pointers; the hash map and subscription are opaque). HemeraNATS reads a
// received message's raw header block (`hdr`, `hdrLen`) through it instead of cnats' header hash
// map. It is trusted only for cnats 3.4.x (checked once at startup) and only after every message's
// public getters agree with it (subject, reply, data, data length; see RawHeaders.swift).
// A plain declaration: no functions, no state (issue 11).
typedef struct CNats_MsgLayout341 {
    void *gcNext;
    void (*gcFreeCb)(void *);
    const char *subject;
    const char *reply;
    char *hdr;
    void *headers;
    const char *data;
    int dataLen;
    int hdrLen;
    int wsz;
    int flags;
    uint64_t seq;
    int64_t time;
    void *sub;
    void *next;
    // The subject, reply, header block and payload follow in the same allocation.
} CNats_MsgLayout341;

#if defined(__LP64__)
// gc (2 pointers), 5 pointers, 4 ints, 2 64-bit integers, 2 pointers, as cnats 3.4.1 on 64 bits.
_Static_assert(sizeof(CNats_MsgLayout341) == 104, "CNats_MsgLayout341 must match cnats 3.4.1's natsMsg");
#endif

#endif
