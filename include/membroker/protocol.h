/* protocol.h: membroker's wire protocol, shared by mbserver and its clients.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, exactly one message per packet. Every
 * message is a 16-byte header followed by `payload_len` bytes of payload.
 * Every integer is little-endian on the wire whatever the host is. Amounts
 * are pages as uint64; an amount >= 2^63 is invalid everywhere. The full
 * specification (byte layouts, sequencing rules) is docs/protocol.md; this
 * header is its constants and nothing else.
 *
 * Header layout (offsets in bytes):
 *    0  u8   version       MB_PROTO_VERSION
 *    1  u8   type          enum mb_msg_type
 *    2  u16  flags         MB_FLAG_* (only MB_FLAG_MORE exists, on STATUS_REPLY)
 *    4  u32  cookie        chosen by the sender of a request, echoed in its reply
 *    8  u32  payload_len   bytes after the header
 *   12  u32  reserved      zero
 */
#ifndef MEMBROKER_PROTOCOL_H
#define MEMBROKER_PROTOCOL_H

#include <stdint.h>

#define MB_PROTO_VERSION 1u
#define MB_PROTO_HEADER_SIZE 16u

/* Largest packet of any kind (a status page). A receiver needs a buffer this
 * big; every message other than STATUS_REPLY fits in MB_PROTO_MAX_SMALL. */
#define MB_PROTO_MAX_MESSAGE 4096u
#define MB_PROTO_MAX_SMALL 128u

/* Longest name (client name, class name) in bytes, without a terminator.
 * Names are UTF-8 or ASCII as the sender likes, but never contain NUL. */
#define MB_NAME_MAX 31u

/* Largest valid amount of pages (2^63 - 1); anything above is invalid. */
#define MB_PAGES_MAX (UINT64_C(0x7fffffffffffffff))

/* Header flags. */
#define MB_FLAG_MORE 0x0001u /* STATUS_REPLY: records exist past this page */
#define MB_FLAGS_KNOWN MB_FLAG_MORE

enum mb_msg_type {
    /* client -> server */
    MB_MSG_HELLO = 1,
    MB_MSG_REQUEST = 2,
    MB_MSG_RESERVE = 3,
    MB_MSG_CANCEL = 4,
    MB_MSG_RETURN = 5,
    MB_MSG_QUERY = 6,
    MB_MSG_STATUS = 7,
    MB_MSG_GIVEBACK_ANSWER = 8,
    MB_MSG_RECLAIM = 9,  /* source client: give me back lent capacity */
    MB_MSG_PRESSURE = 10, /* privileged watcher: the kernel's pressure level */
    /* server -> client */
    MB_MSG_WELCOME = 32,
    MB_MSG_ERROR = 33,
    MB_MSG_GRANT = 34,
    MB_MSG_OK = 35,
    MB_MSG_QUERY_REPLY = 36,
    MB_MSG_STATUS_REPLY = 37,
    MB_MSG_GIVEBACK = 38,
};

/* Kinds of client (HELLO). */
enum mb_client_kind {
    MB_KIND_SIMPLE = 0,        /* asks and returns; is never asked to give back */
    MB_KIND_BIDIRECTIONAL = 1, /* also answers GIVEBACK queries */
    MB_KIND_SOURCE = 2,        /* bidirectional, and lends capacity to the pool */
};
#define MB_KIND_COUNT 3

/* Urgency of a GIVEBACK query. */
enum mb_urgency {
    MB_URGENCY_NORMAL = 0, /* for a REQUEST: give what is cheap to give */
    MB_URGENCY_URGENT = 1, /* for a RESERVE/RECLAIM/debt: give all you can */
};
#define MB_URGENCY_COUNT 2

/* Pressure levels (PRESSURE, from a privileged connection). */
enum mb_pressure_level {
    MB_PRESSURE_NONE = 0,
    MB_PRESSURE_MODERATE = 1,
    MB_PRESSURE_CRITICAL = 2,
};
#define MB_PRESSURE_COUNT 3

/* What a STATUS asks for and a STATUS_REPLY holds. */
enum mb_status_section {
    MB_STATUS_CLIENTS = 0,
    MB_STATUS_CLASSES = 1,
};
#define MB_STATUS_SECTION_COUNT 2

/* Kind of a client's pending request, as shown in status. */
enum mb_pending_kind {
    MB_PENDING_NONE = 0,
    MB_PENDING_REQUEST = 1,
    MB_PENDING_RESERVE = 2,
    MB_PENDING_RECLAIM = 3,
};
#define MB_PENDING_KIND_COUNT 4

/* Codes carried by ERROR. */
enum mb_error_code {
    MB_ERR_PROTOCOL = 1,         /* malformed message; detail = enum mb_decode_error */
    MB_ERR_INVALID = 2,          /* an amount >= 2^63 or a value out of range */
    MB_ERR_NOT_REGISTERED = 3,   /* a message other than HELLO before HELLO */
    MB_ERR_ALREADY_REGISTERED = 4, /* a second HELLO */
    MB_ERR_BUSY = 5,             /* REQUEST/RESERVE/RECLAIM while one is pending */
    MB_ERR_NOMEM = 6,            /* RESERVE/RECLAIM: every client refused */
    MB_ERR_CANCELLED = 7,        /* the pending request was cancelled */
    MB_ERR_NO_SUCH_REQUEST = 8,  /* CANCEL of a cookie that is not pending */
    MB_ERR_OVER_BALANCE = 9,     /* RETURN of more than held */
    MB_ERR_CLASS_LIMIT = 10,     /* the client's class has no room */
    MB_ERR_TOO_MANY_CLIENTS = 11, /* connection refused */
    MB_ERR_NOT_PERMITTED = 12,   /* privileged message from an unprivileged peer */
    MB_ERR_WRONG_KIND = 13,      /* e.g. RECLAIM from a client that is not a source */
    MB_ERR_UNEXPECTED = 14,      /* a server-to-client type sent to the server */
    MB_ERR_TIMED_OUT = 15,       /* a RESERVE/RECLAIM's own deadline passed */
    MB_ERR_MISSED_DEADLINES = 16, /* sent before a disconnect for missed queries */
};
#define MB_ERR_COUNT 17

/* Results of decoding (negative; 0 is success). Each failure has its own code
 * so a peer's bug is diagnosable from the ERROR detail. */
enum mb_decode_error {
    MB_DECODE_OK = 0,
    MB_DECODE_SHORT = -1,           /* fewer bytes than a header */
    MB_DECODE_VERSION = -2,         /* version byte is not MB_PROTO_VERSION */
    MB_DECODE_OVERSIZE = -3,        /* packet or payload_len above MB_PROTO_MAX_MESSAGE */
    MB_DECODE_TRUNCATED = -4,       /* fewer payload bytes than payload_len */
    MB_DECODE_TRAILING = -5,        /* more bytes than header + payload_len */
    MB_DECODE_RESERVED = -6,        /* reserved header field, flag or padding not zero */
    MB_DECODE_UNKNOWN_TYPE = -7,    /* type is not an enum mb_msg_type */
    MB_DECODE_LENGTH = -8,          /* payload_len does not fit the type's layout */
    MB_DECODE_AMOUNT = -9,          /* an amount >= 2^63 */
    MB_DECODE_BAD_VALUE = -10,      /* an enum field (kind, urgency, ...) out of range */
    MB_DECODE_STRING_NUL = -11,     /* a name contains a NUL byte */
    MB_DECODE_STRING_TOO_LONG = -12, /* a name longer than MB_NAME_MAX */
};
#define MB_DECODE_ERROR_COUNT 13

#endif
