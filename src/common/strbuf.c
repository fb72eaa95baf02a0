/* strbuf.c: see strbuf.h. */
#include "common/strbuf.h"

#include <errno.h>
#include <string.h>

void mb_strbuf_init(struct mb_strbuf *sb, char *buf, size_t cap)
{
    sb->buf = cap > 0 ? buf : NULL;
    sb->cap = sb->buf ? cap : 0;
    sb->len = 0;
    sb->truncated = false;
    if (sb->cap > 0)
        sb->buf[0] = '\0';
}

void mb_strbuf_append_n(struct mb_strbuf *sb, const char *s, size_t n)
{
    size_t room = sb->cap > 0 ? sb->cap - 1 - sb->len : 0;
    size_t take = n;
    if (take > room) {
        take = room;
        sb->truncated = true;
    }
    if (take > 0) {
        memcpy(sb->buf + sb->len, s, take);
        sb->len += take;
    }
    if (sb->cap > 0)
        sb->buf[sb->len] = '\0';
}

void mb_strbuf_append(struct mb_strbuf *sb, const char *s)
{
    if (s == NULL)
        s = "(null)";
    mb_strbuf_append_n(sb, s, strlen(s));
}

void mb_strbuf_append_char(struct mb_strbuf *sb, char c)
{
    mb_strbuf_append_n(sb, &c, 1);
}

void mb_strbuf_append_u64(struct mb_strbuf *sb, uint64_t value)
{
    char digits[20]; /* UINT64_MAX has 20 decimal digits */
    size_t start = sizeof(digits);
    do {
        digits[--start] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0 && start > 0);
    mb_strbuf_append_n(sb, digits + start, sizeof(digits) - start);
}

void mb_strbuf_append_i64(struct mb_strbuf *sb, int64_t value)
{
    if (value < 0) {
        mb_strbuf_append_char(sb, '-');
        /* Negating in unsigned arithmetic is defined for INT64_MIN too. */
        mb_strbuf_append_u64(sb, 0 - (uint64_t)value);
    } else {
        mb_strbuf_append_u64(sb, (uint64_t)value);
    }
}

void mb_strbuf_append_printable(struct mb_strbuf *sb, const char *s, size_t n, size_t max_bytes)
{
    static const char hex[] = "0123456789abcdef";
    size_t shown = n < max_bytes ? n : max_bytes;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            mb_strbuf_append_n(sb, esc, sizeof(esc));
        } else if (c >= 0x20 && c < 0x7f) {
            mb_strbuf_append_char(sb, (char)c);
        } else {
            char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
            mb_strbuf_append_n(sb, esc, sizeof(esc));
        }
    }
    if (shown < n)
        mb_strbuf_append(sb, "...");
}

struct errno_text {
    int code;
    const char *text;
};

/* The codes a file, socket or /proc reader of this project meets; the texts
 * follow glibc's wording so messages look familiar. */
static const struct errno_text errno_texts[] = {
    {EPERM, "Operation not permitted"},
    {ENOENT, "No such file or directory"},
    {EINTR, "Interrupted system call"},
    {EIO, "Input/output error"},
    {ENXIO, "No such device or address"},
    {E2BIG, "Argument list too long"},
    {EBADF, "Bad file descriptor"},
    {EAGAIN, "Resource temporarily unavailable"},
    {ENOMEM, "Cannot allocate memory"},
    {EACCES, "Permission denied"},
    {EFAULT, "Bad address"},
    {EBUSY, "Device or resource busy"},
    {EEXIST, "File exists"},
    {ENODEV, "No such device"},
    {ENOTDIR, "Not a directory"},
    {EISDIR, "Is a directory"},
    {EINVAL, "Invalid argument"},
    {ENFILE, "Too many open files in system"},
    {EMFILE, "Too many open files"},
    {EFBIG, "File too large"},
    {ENOSPC, "No space left on device"},
    {EROFS, "Read-only file system"},
    {EPIPE, "Broken pipe"},
    {ERANGE, "Numerical result out of range"},
    {ENAMETOOLONG, "File name too long"},
    {ENOSYS, "Function not implemented"},
    {ELOOP, "Too many levels of symbolic links"},
    {EOVERFLOW, "Value too large for defined data type"},
    {ETIMEDOUT, "Connection timed out"},
    {ECONNREFUSED, "Connection refused"},
    {ECONNRESET, "Connection reset by peer"},
    {ENOTCONN, "Transport endpoint is not connected"},
    {EPROTO, "Protocol error"},
};

void mb_strbuf_append_errno(struct mb_strbuf *sb, int errnum)
{
    for (size_t i = 0; i < sizeof(errno_texts) / sizeof(errno_texts[0]); i++) {
        if (errno_texts[i].code == errnum) {
            mb_strbuf_append(sb, errno_texts[i].text);
            return;
        }
    }
    mb_strbuf_append(sb, "errno ");
    mb_strbuf_append_i64(sb, errnum);
}

const char *mb_strbuf_str(const struct mb_strbuf *sb)
{
    return sb->cap > 0 ? sb->buf : "";
}

bool mb_strbuf_truncated(const struct mb_strbuf *sb)
{
    return sb->truncated;
}
