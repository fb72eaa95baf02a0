/* exit_report.c: a module test_gmalloc_programs.sh preloads after the
 * allocator (LD_PRELOAD="libgmalloc.so exit_report.so"). When a process
 * exits normally, gmalloc is its allocator (gmalloc_report is found with
 * dlsym) and GMPROG_REPORT_DIR is set, it writes gmalloc's report to
 * GMPROG_REPORT_DIR/report.PID: the proof, with counts, that the process's
 * allocations were served by gmalloc. It allocates nothing itself and
 * changes nothing the program prints. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*report_fn)(int fd);

__attribute__((destructor)) static void exit_report(void)
{
    const char *dir = getenv("GMPROG_REPORT_DIR");
    if (dir == NULL || dir[0] == '\0')
        return;
    void *sym = dlsym(RTLD_DEFAULT, "gmalloc_report");
    if (sym == NULL)
        return;
    report_fn report;
    memcpy(&report, &sym, sizeof report); /* object to function pointer, as POSIX allows */
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/report.%ld", dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof path)
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    (void)report(fd);
    (void)close(fd);
}
