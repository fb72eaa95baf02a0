/* mbfrag_root.c: see mbfrag_root.h. */
#include "tools/mbfrag_root.h"

#include "common/numparse.h"
#include "common/proc_read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int mbfrag_root_path(const char *root, const char *path, char *buf, size_t size)
{
    size_t root_len = root != NULL ? strlen(root) : 0;
    /* "DIR/" and "/proc" join without a double slash; the kernel would not
     * mind, but paths in messages read better. */
    while (root_len > 0 && root[root_len - 1] == '/')
        root_len--;
    if (root_len > INT_MAX || root_len + strlen(path) + 1 > size)
        return -ENAMETOOLONG;
    snprintf(buf, size, "%.*s%s", (int)root_len, root_len > 0 ? root : "", path);
    return 0;
}

int mbfrag_root_read(const char *root, const char *path, char *buf, size_t size, size_t *len)
{
    char full[MBFRAG_PATH_MAX];
    *len = 0;
    int rc = mbfrag_root_path(root, path, full, sizeof full);
    if (rc < 0)
        return rc;
    return mb_proc_read(full, buf, size, len);
}

int mbfrag_root_read_u64(const char *root, const char *path, uint64_t *value)
{
    char buf[64];
    size_t len = 0;
    int rc = mbfrag_root_read(root, path, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    size_t end = 0;
    while (end < len && buf[end] != '\n')
        end++;
    while (end > 0 && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
        end--;
    return mb_parse_u64_exact(buf, end, value);
}

int mbfrag_root_write(const char *root, const char *path, const char *text)
{
    char full[MBFRAG_PATH_MAX];
    int rc = mbfrag_root_path(root, path, full, sizeof full);
    if (rc < 0)
        return rc;
    int fd = open(full, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t done;
    do {
        done = write(fd, text, len);
    } while (done < 0 && errno == EINTR);
    rc = done < 0 ? -errno : ((size_t)done == len ? 0 : -EIO);
    close(fd);
    return rc;
}

bool mbfrag_root_exists(const char *root, const char *path)
{
    char full[MBFRAG_PATH_MAX];
    if (mbfrag_root_path(root, path, full, sizeof full) < 0)
        return false;
    return access(full, F_OK) == 0;
}
