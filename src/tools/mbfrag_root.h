/* mbfrag_root.h: /proc, /sys and /dev paths under an optional root directory.
 *
 * mbfrag and mbconf take --root DIR so that every kernel file they read or
 * write is DIR + path: tests point them at fixture trees (fake /proc and
 * /sys) instead of the live machine. A NULL or empty root is "/" itself.
 * Nothing here allocates.
 */
#ifndef MB_TOOLS_MBFRAG_ROOT_H
#define MB_TOOLS_MBFRAG_ROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a joined path with its NUL. */
#define MBFRAG_PATH_MAX 512

/* Writes root + path (path starts with '/') into buf[0..size). Returns 0, or
 * -ENAMETOOLONG when it does not fit. Does not block. */
int mbfrag_root_path(const char *root, const char *path, char *buf, size_t size);

/* Reads root + path whole into buf[0..size) like mb_proc_read. Returns 0,
 * -EFBIG (buf too small), -ENAMETOOLONG, or the negative errno of open(2) or
 * read(2). May block on the file (kernel files answer at once). */
int mbfrag_root_read(const char *root, const char *path, char *buf, size_t size, size_t *len);

/* Reads root + path and parses its first line as an unsigned decimal number
 * (trailing blanks and newline allowed). Returns 0, -EINVAL when it is not a
 * number, or an error of mbfrag_root_read. */
int mbfrag_root_read_u64(const char *root, const char *path, uint64_t *value);

/* Writes `text` to the existing file root + path (O_WRONLY|O_TRUNC, never
 * created: a missing kernel knob is -ENOENT). Returns 0, or the negative
 * errno of open(2) or write(2) (-EAGAIN from a memory.reclaim that reclaimed
 * less than asked, -EBUSY from force_empty, -EACCES without privilege).
 * Blocks for as long as the kernel works on the write: compaction and
 * reclaim can take seconds. */
int mbfrag_root_write(const char *root, const char *path, const char *text);

/* True when root + path exists (any file type). Does not block. */
bool mbfrag_root_exists(const char *root, const char *path);

#endif
