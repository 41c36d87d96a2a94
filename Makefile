# floe — the two commands a user needs are `make run` and `make test`; both install missing
# Debian packages and build first. See README.md.
BUILD ?= build
ASAN_BUILD ?= build-asan
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps test-deps build test test-unit test-asan run static bench fuzz fuzz-smoke clean configure

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# Everything: unit tests and integration tests against the real binary.
# Slow ones carry the ctest label "slow" (test_kafka_durability: ~90 s of kill -9 rounds);
# `make test CTEST_ARGS='-LE slow'` skips them.
test: test-deps configure
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-unit: deps configure
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) -L unit

# The embedded default, plus the operators' HTTP endpoint: curl localhost:9644/metrics (or /health).
RUN_HTTP ?= HTTP://127.0.0.1:9644
run: build
	$(BUILD)/floe serve --override http.listeners=$(RUN_HTTP) $(ARGS)

static: deps
	bash scripts/build-static.sh

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target benchmarks
	bash scripts/run-benchmarks.sh $(BUILD)

# libFuzzer targets (clang): `make fuzz` runs each for FUZZ_SECONDS (default 60).
fuzz: test-deps
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-60}

fuzz-smoke: test-deps
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-10}

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-static build-fuzz
