/* errors.c: the library's version and constant error strings.
 *
 * Our own table instead of strerror(): strerror may localise, is not
 * guaranteed thread-safe, and the library must never depend on the locale. */
#include "membroker/client.h"

#include <errno.h>
#include <stddef.h>

#ifndef MB_CLIENT_VERSION
#define MB_CLIENT_VERSION "0.0.0"
#endif

const char *mb_client_version(void)
{
    return MB_CLIENT_VERSION;
}

static const char *server_error_text(int code)
{
    switch (code) {
    case MB_ERR_PROTOCOL: return "server: malformed message";
    case MB_ERR_INVALID: return "server: invalid value";
    case MB_ERR_NOT_REGISTERED: return "server: not registered";
    case MB_ERR_ALREADY_REGISTERED: return "server: already registered";
    case MB_ERR_BUSY: return "server: a request is already pending";
    case MB_ERR_NOMEM: return "server: not enough quota";
    case MB_ERR_CANCELLED: return "server: request cancelled";
    case MB_ERR_NO_SUCH_REQUEST: return "server: no such request";
    case MB_ERR_OVER_BALANCE: return "server: return of more than held";
    case MB_ERR_CLASS_LIMIT: return "server: class limit reached";
    case MB_ERR_TOO_MANY_CLIENTS: return "server: too many clients";
    case MB_ERR_NOT_PERMITTED: return "server: not permitted";
    case MB_ERR_WRONG_KIND: return "server: wrong kind of client";
    case MB_ERR_UNEXPECTED: return "server: unexpected message";
    case MB_ERR_TIMED_OUT: return "server: deadline passed";
    case MB_ERR_MISSED_DEADLINES: return "server: too many missed deadlines";
    default: return NULL;
    }
}

static const char *errno_text(int e)
{
    switch (e) {
    case EINVAL: return "invalid argument";
    case ETIMEDOUT: return "timed out";
    case ENOENT: return "no membroker socket at the path";
    case ECONNREFUSED: return "connection refused";
    case ECONNRESET: return "server went away";
    case ENOTCONN: return "not connected";
    case EPROTO: return "protocol error";
    case ENAMETOOLONG: return "name too long";
    case EBUSY: return "a request is already pending";
    case EMFILE: return "too many clients or descriptors";
    case EAGAIN: return "no free waiter slot";
    case EDEADLK: return "called from a give-back callback";
    case EALREADY: return "already running";
    case ESRCH: return "not running";
    case EACCES: return "permission denied";
    case ENOMEM: return "out of kernel memory";
    case EPIPE: return "broken pipe";
    default: return NULL;
    }
}

const char *mb_client_strerror(int err)
{
    if (err >= 0)
        return "success";
    if (err <= -MB_CLIENT_ERR_BASE && err > -(MB_CLIENT_ERR_BASE + MB_ERR_COUNT)) {
        const char *t = server_error_text(-err - MB_CLIENT_ERR_BASE);
        if (t != NULL)
            return t;
    } else {
        const char *t = errno_text(-err);
        if (t != NULL)
            return t;
    }
    return "unknown error";
}
