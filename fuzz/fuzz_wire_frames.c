/* fuzz_wire_frames — whole messages of any number of frames through wire_recv, over a real
 * ZeroMQ socket pair (inproc), as peers send them. The input is a list of frames, each a 2-byte
 * little-endian length and that many bytes (a short tail is one more frame). The target's
 * properties: wire_recv takes exactly one message whatever its frames (after it returns, the
 * next message on the socket is read whole and intact: a valid Heartbeat sent behind the fuzzed
 * message must come out of the next wire_recv), never blocks, and accepts a message only when it
 * had one frame (one after the routing id on a ROUTER). */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "common/msg.h"
#include "common/wire_socket.h"
#include "fuzz/fuzz.h"

#define MAX_FRAMES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *s_ctx, *s_dealer, *s_router;
static uint8_t s_heartbeat[64];
static size_t s_heartbeat_len;

static void s_init(void) {
    s_ctx = zmq_ctx_new();
    wire_socket_opts_t o = {.label = "fuzz", .type = ZMQ_ROUTER, .endpoint = "inproc://fuzz-wire-frames", .bind = 1,
                            .max_frame_bytes = 1 << 20};
    if (!(s_router = wire_socket_open(s_ctx, &o))) abort();
    o.type = ZMQ_DEALER, o.bind = 0, o.routing_id = "fuzz";
    if (!(s_dealer = wire_socket_open(s_ctx, &o))) abort();
    Spar__Heartbeat hb = SPAR__HEARTBEAT__INIT;
    hb.policy_version = 42;
    Spar__Envelope e = SPAR__ENVELOPE__INIT;
    e.protocol_version = WIRE_PROTOCOL_VERSION;
    msg_envelope(&e, SPAR__ENVELOPE__BODY_HEARTBEAT, &hb);
    s_heartbeat_len = spar__envelope__get_packed_size(&e);
    spar__envelope__pack(&e, s_heartbeat);
}

/* Waits (bounded) until the router has a message: inproc delivery is asynchronous. */
static int s_wait(void) {
    zmq_pollitem_t it = {s_router, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&it, 1, 1000) > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!s_ctx) s_init();
    const uint8_t *frame[MAX_FRAMES];
    size_t len[MAX_FRAMES];
    int n = 0;
    for (size_t at = 0; at < size && n < MAX_FRAMES;) {
        size_t l = size - at >= 2 ? (size_t)(data[at] | data[at + 1] << 8) : 0;
        at += size - at >= 2 ? 2 : size - at;
        if (l > size - at) l = size - at;
        frame[n] = data + at, len[n++] = l;
        at += l;
    }
    if (n == 0) frame[0] = data, len[0] = 0, n = 1;
    for (int i = 0; i < n; i++) zmq_send(s_dealer, frame[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    zmq_send(s_dealer, s_heartbeat, s_heartbeat_len, 0);

    wire_t w;
    wire_init(&w, "fuzz", 1 << 20);
    if (!s_wait()) abort();
    wire_peer_t from;
    Spar__Envelope *e = wire_recv(&w, s_router, 1, &from);
    if (e && n != 1) {
        fprintf(stderr, "fuzz_wire_frames: a message of %d frames was accepted\n", n);
        abort();
    }
    if (!e && w.bad_messages != 1) {
        fprintf(stderr, "fuzz_wire_frames: a refused message counted %llu times\n", (unsigned long long)w.bad_messages);
        abort();
    }
    wire_free(e);
    if (!s_wait()) abort();
    Spar__Envelope *hb = wire_recv(&w, s_router, 1, &from);
    if (!hb || hb->body_case != SPAR__ENVELOPE__BODY_HEARTBEAT || hb->heartbeat->policy_version != 42 ||
        from.len != 4) {
        fprintf(stderr, "fuzz_wire_frames: the message after a %d-frame one did not arrive whole\n", n);
        abort();
    }
    wire_free(hb);
    wire_fini(&w);
    return 0;
}
