// test_gmalloc_cxx: C++ new and delete go through gmalloc (libstdc++'s
// operator new calls malloc, the aligned forms aligned_alloc): the blocks
// are gmalloc's, aligned as asked, and the counts return to where they were.
#include "anr/gmalloc.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <new>
#include <string>
#include <vector>

static int failures;

static void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

struct alignas(256) Wide {
    unsigned char bytes[300];
};

int main()
{
    std::vector<int> *warm = new std::vector<int>(10);
    delete warm;
    struct gmalloc_stats before;
    check(gmalloc_stats(&before) == 0, "gmalloc_stats");
    {
        int *i = new int(7);
        check(gmalloc_owns(i), "new int is gmalloc's");
        delete i;
        int *a = new int[1000];
        check(gmalloc_owns(a), "new int[] is gmalloc's");
        delete[] a;
        Wide *w = new Wide;
        check(gmalloc_owns(w), "aligned new is gmalloc's");
        check(reinterpret_cast<std::uintptr_t>(w) % 256 == 0, "aligned new honours alignas(256)");
        delete w;
        std::map<std::string, std::vector<std::string>> m;
        for (int k = 0; k < 2000; k++)
            m[std::to_string(k)].push_back(std::string(100 + k % 50, 'x'));
        check(m.size() == 2000 && m["1999"][0].size() == 149, "containers work");
        int *n = new (std::nothrow) int[16];
        check(gmalloc_owns(n), "nothrow new is gmalloc's");
        delete[] n;
    }
    struct gmalloc_stats after;
    check(gmalloc_stats(&after) == 0, "gmalloc_stats");
    check(after.heap.mallocs > before.heap.mallocs + 4000, "new went through malloc");
    check(after.heap.live_blocks == before.heap.live_blocks, "delete freed every block");
    bool threw = false;
    try {
        static void *volatile sink;
        static volatile size_t huge = static_cast<size_t>(1) << 62;
        sink = ::operator new(huge); // a direct call: compilers may not elide it
        ::operator delete(sink);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    check(threw, "bad_alloc past the reservation");
    std::printf("test_cxx: %s\n", failures == 0 ? "passed" : "FAILED");
    return failures == 0 ? 0 : 1;
}
