# The two commands of the README, and a few conveniences. The real build is
# CMake (build/dev for everyday work); these targets install what is missing
# first, so they work on a fresh Debian 12 machine as root.
SHELL := /bin/bash
BUILD ?= build/dev
FUZZ_SECONDS ?= 300

.PHONY: all build check demo lint fuzz install clean

all: build

build:
	@scripts/install-deps
	@cmake -S . -B $(BUILD) >/dev/null
	@cmake --build $(BUILD) -j$$(nproc)

# Run every test: gcc and clang builds, sanitizers, lint, fuzz smoke, ARM under qemu.
check:
	@scripts/install-deps
	@scripts/check

# Run the demo of the main job on the embedded default config.
demo:
	@scripts/install-deps
	@scripts/demo

lint:
	@scripts/install-deps
	@scripts/lint

# make fuzz FUZZ_SECONDS=3600 runs every libFuzzer target that long.
fuzz:
	@scripts/install-deps
	@cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DMB_FUZZ=ON -DMB_BUILD_TESTS=OFF >/dev/null
	@cmake --build build/fuzz -j$$(nproc)
	@for t in $$(cat build/fuzz/fuzz-targets.txt); do scripts/fuzz $$t $(FUZZ_SECONDS) build/fuzz || exit 1; done

install: build
	@cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf build

# Allocator benchmarks against the peers (docs/benchmarks.md); BENCH_ARGS=--quick for a short run.
.PHONY: bench-alloc
bench-alloc:
	@scripts/install-deps
	@scripts/bench-alloc $(BENCH_ARGS)
