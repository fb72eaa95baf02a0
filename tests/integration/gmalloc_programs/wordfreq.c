/* A small program for test_gmalloc_programs.sh: gcc compiles it under glibc
 * and under a preloaded malloc (the objects must be identical), then it runs
 * under both and must print the same. It makes deterministic words, counts
 * them in a chained hash table, grows arrays with realloc, sorts and prints. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  struct entry *next;
  size_t count;
  char word[];
};

struct table {
  struct entry **slots;
  size_t nslots;
  size_t used;
};

static uint32_t next_random(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

static uint32_t hash_word(const char *word) {
  uint32_t h = 2166136261u;
  for (; *word; word++) h = (h ^ (uint8_t)*word) * 16777619u;
  return h;
}

static int table_grow(struct table *t) {
  size_t n = t->nslots ? t->nslots * 2 : 64;
  struct entry **slots = calloc(n, sizeof(struct entry *));
  if (!slots) return -1;
  for (size_t i = 0; i < t->nslots; i++) {
    struct entry *e = t->slots[i];
    while (e) {
      struct entry *next = e->next;
      size_t j = hash_word(e->word) & (n - 1);
      e->next = slots[j];
      slots[j] = e;
      e = next;
    }
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = n;
  return 0;
}

static int table_add(struct table *t, const char *word) {
  if (t->used * 2 >= t->nslots && table_grow(t) < 0) return -1;
  size_t i = hash_word(word) & (t->nslots - 1);
  for (struct entry *e = t->slots[i]; e; e = e->next)
    if (strcmp(e->word, word) == 0) {
      e->count++;
      return 0;
    }
  size_t len = strlen(word);
  struct entry *e = malloc(sizeof *e + len + 1);
  if (!e) return -1;
  memcpy(e->word, word, len + 1);
  e->count = 1;
  e->next = t->slots[i];
  t->slots[i] = e;
  t->used++;
  return 0;
}

static int by_count_then_word(const void *a, const void *b) {
  const struct entry *x = *(const struct entry *const *)a;
  const struct entry *y = *(const struct entry *const *)b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->word, y->word);
}

static void table_free(struct table *t) {
  for (size_t i = 0; i < t->nslots; i++) {
    struct entry *e = t->slots[i];
    while (e) {
      struct entry *next = e->next;
      free(e);
      e = next;
    }
  }
  free(t->slots);
}

int main(int argc, char **argv) {
  size_t words = argc > 1 ? strtoul(argv[1], NULL, 10) : 300000;
  struct table t = {0};
  struct entry **all = NULL;
  uint32_t state = 12345;
  char word[16];
  for (size_t n = 0; n < words; n++) {
    size_t len = 1 + next_random(&state) % 4;
    for (size_t i = 0; i < len; i++) word[i] = (char)('a' + next_random(&state) % 12);
    word[len] = '\0';
    if (table_add(&t, word) < 0) goto out_of_memory;
  }
  /* Collect into an array grown by realloc, one entry at a time. */
  size_t n = 0;
  for (size_t i = 0; i < t.nslots; i++)
    for (struct entry *e = t.slots[i]; e; e = e->next) {
      struct entry **grown = realloc(all, (n + 1) * sizeof(struct entry *));
      if (!grown) goto out_of_memory;
      all = grown;
      all[n++] = e;
    }
  if (n > 1) qsort(all, n, sizeof(struct entry *), by_count_then_word);
  printf("%zu words, %zu distinct, %zu slots\n", words, n, t.nslots);
  for (size_t i = 0; i < n && i < 20; i++) printf("%-6s %zu\n", all[i]->word, all[i]->count);
  uint32_t check = 0;
  for (size_t i = 0; i < n; i++) check = check * 31u + hash_word(all[i]->word) + (uint32_t)all[i]->count;
  printf("checksum %08x\n", (unsigned)check);
  free(all);
  table_free(&t);
  return 0;

out_of_memory:
  fputs("wordfreq: out of memory\n", stderr);
  free(all);
  table_free(&t);
  return 1;
}
