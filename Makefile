# The README's commands. Each installs what is missing (Debian 12, as root), then builds.
# On a bare system without make, ./spar.sh demo|test installs make too, then runs these targets.
BUILD ?= build
JOBS ?= $(shell nproc)
ifeq ($(SANITIZE),1)
  BUILD := build-sanitize
  CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPAR_SANITIZE=ON
else
  CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=Release
endif

.PHONY: setup build demo chat-demo test bench clean
setup:
	@./scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/spar run

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900 $(CTEST_ARGS)

bench: build
	SPAR=$(CURDIR)/$(BUILD)/spar ./bench/quickstart.sh
	SPAR=$(CURDIR)/$(BUILD)/spar ./bench/cluster.sh

clean:
	rm -rf build build-sanitize

chat-demo: build
	$(BUILD)/spar tiny-models models/tiny
	$(BUILD)/spar run configs/chat-sppo.yaml
