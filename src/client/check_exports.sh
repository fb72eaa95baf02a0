#!/usr/bin/env bash
# Checks what libmbclient shows the world: the shared library exports only
# mb_ names, and neither library calls the heap or stdio (the library
# promises no allocation and no printing).
#   check_exports.sh LIBMBCLIENT.so LIBMBCLIENT.a [NM]
set -euo pipefail
so=${1:?usage: check_exports.sh SO A [NM]}
ar=${2:?usage: check_exports.sh SO A [NM]}
nm=${3:-nm}
fail=0
forbidden='^(malloc|calloc|realloc|reallocarray|free|strdup|strndup|posix_memalign|aligned_alloc|memalign|valloc|printf|fprintf|vfprintf|puts|fputs|perror|fopen|fdopen|asprintf|vasprintf|open_memstream|getaddrinfo|syslog|strerror)(@.*)?$'

exported=$("$nm" -D --defined-only "$so" | awk '$2 != "A" {print $3}')
bad=$(grep -v '^mb_' <<<"$exported" || true)
if [[ -n $bad ]]; then echo "FAIL: exported names without the mb_ prefix:"; echo "$bad"; fail=1; fi
leak=$(grep -E '^mb_(proto|parse|mul|add|cl_)' <<<"$exported" || true)
if [[ -n $leak ]]; then echo "FAIL: internal names exported:"; echo "$leak"; fail=1; fi
count=$(wc -l <<<"$exported")

for lib in "$so" "$ar"; do
  if [[ $lib == "$so" ]]; then undef=$("$nm" -D --undefined-only "$lib" | awk '{print $2}')
  else undef=$("$nm" --undefined-only "$lib" 2>/dev/null | awk 'NF == 2 {print $2}'); fi
  hits=$(grep -E "$forbidden" <<<"$undef" || true)
  if [[ -n $hits ]]; then echo "FAIL: $lib references:"; echo "$hits"; fail=1; fi
done
globals=$("$nm" --defined-only --extern-only "$ar" 2>/dev/null | awk 'NF == 3 {print $3}')
bad=$(grep -v '^mb_' <<<"$globals" || true)
if [[ -n $bad ]]; then echo "FAIL: global names without the mb_ prefix in $ar:"; echo "$bad"; fail=1; fi

[[ $fail -eq 0 ]] && echo "client_exports: $count exported names, all mb_; no heap or stdio symbol"
exit $fail
