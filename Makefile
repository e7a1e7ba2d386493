# Thin wrapper over CMake + CTest. Every target installs what it needs first (idempotent).
JOBS        ?= $(shell nproc)
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 20
CMAKE_FLAGS ?=

.PHONY: all build deps test unit asan demo package bench mission mission-fleet fuzz format tidy clean help

all: build

help:
	@echo "make            build $(BUILD)/gatehouse (Release)"
	@echo "make demo       run Gatehouse on 127.0.0.1:8080 in front of the demo app"
	@echo "make test       install test deps, build, run all tests (Release, then ASan+UBSan)"
	@echo "make package    the Debian package (binary, systemd unit, config) in $(BUILD)/"
	@echo "make bench      side-by-side benchmarks against nginx and HAProxy"
	@echo "make mission    registration flood vs Gatehouse, nginx and HAProxy: one table (~6 min)"
	@echo "make mission-fleet  3 nodes behind HAProxy under the flood: one Redis, a Redis Cluster, none (~5 min)"
	@echo "make fuzz       run every libFuzzer target for FUZZ_SECONDS (default $(FUZZ_SECONDS))"
	@echo "make format     clang-format the tree; make tidy: clang-tidy over src/"

deps:
	@scripts/install-deps build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target gatehouse

demo: build
	$(BUILD)/gatehouse demo

# The .deb (cmake/package.cmake): CPack from the Release build tree.
package: build
	cd $(BUILD) && cpack -G DEB

# Release build first (fast feedback), then the whole suite again under ASan+UBSan.
test:
	@scripts/install-deps test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DGATEHOUSE_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DGATEHOUSE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

bench:
	@scripts/install-deps bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DGATEHOUSE_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	scripts/bench $(BUILD)

# The mission (docs/MISSION.md): `gatehouse sim` replays registration-flood, then launch-siege,
# against Gatehouse, nginx and HAProxy in front of the demo app, each with the same CPU share.
# MISSION_* variables (scripts/mission --help) shorten or select.
mission:
	@scripts/install-deps bench
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS) --target gatehouse
	scripts/mission $(BUILD)

# The fleet mission (docs/MISSION.md, "The fleet"): 3 nodes behind HAProxy (PROXY protocol v2) under
# the registration flood, sharing one redis-server, then a Redis Cluster (a master killed during the
# flood), then without cluster:; the issue's targets as
# pass/fail. FLEET_* variables (scripts/mission-fleet --help) shorten or select.
mission-fleet:
	@scripts/install-deps mission
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS) --target gatehouse
	scripts/mission-fleet $(BUILD)

fuzz:
	@scripts/install-deps test
	CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATEHOUSE_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

format:
	find src demo tests sim -name '*.h' -o -name '*.cc' 2>/dev/null | xargs clang-format -i

tidy: $(BUILD)/CMakeCache.txt
	find src -name '*.cc' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
