/* libFuzzer target for the wire decoder (src/proto/codec.c).
 *
 * Decodes arbitrary bytes as one packet and checks the codec's promises:
 * - a failure is one of the documented enum mb_decode_error codes;
 * - a success re-encodes to exactly the same bytes (the encoding is
 *   canonical: every reserved field and padding byte was checked), status
 *   pages included, record by record;
 * - the header peek agrees with the full decode.
 * The decoder must never read past the input (ASan watches).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[MB_PROTO_MAX_MESSAGE];

static void require(int cond)
{
    if (!cond)
        abort();
}

static int reencode_status(const uint8_t *data, size_t size, const struct mb_msg *m)
{
    const struct mb_status_summary *s = &m->u.status_reply.summary;
    bool more = (m->flags & MB_FLAG_MORE) != 0;
    if (s->section == MB_STATUS_CLIENTS) {
        struct mb_status_client recs[MB_STATUS_CLIENTS_PER_PAGE];
        for (size_t i = 0; i < s->count; i++)
            require(mb_proto_status_client_at(data, size, i, &recs[i]) == 0);
        return mb_proto_encode_status_clients(out, sizeof(out), m->cookie, more, s, s->offset,
                                              recs, s->count);
    }
    struct mb_status_class recs[MB_STATUS_CLASSES_PER_PAGE];
    for (size_t i = 0; i < s->count; i++)
        require(mb_proto_status_class_at(data, size, i, &recs[i]) == 0);
    return mb_proto_encode_status_classes(out, sizeof(out), m->cookie, more, s, s->offset, recs,
                                          s->count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mb_msg m;
    int err = mb_proto_decode(data, size, &m);
    require(err <= 0 && err > -(int)MB_DECODE_ERROR_COUNT);
    require(strcmp(mb_proto_decode_error_name(err), "?") != 0);

    struct mb_msg_header h;
    int peek = mb_proto_peek_header(data, size, &h);
    if (peek != 0)
        require(err == peek);
    if (err != 0)
        return 0;
    require(h.type == m.type && h.cookie == m.cookie && h.flags == m.flags);

    int n = m.type == MB_MSG_STATUS_REPLY ? reencode_status(data, size, &m)
                                          : mb_proto_encode(&m, out, sizeof(out));
    require(n > 0 && (size_t)n == size);
    require(memcmp(out, data, size) == 0);
    return 0;
}
