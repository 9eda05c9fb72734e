# Two entry points for a fresh machine: `make run` (set up, serve on 127.0.0.1:5001) and `make test`;
# `make test-fast` is the quick tier while working (no browser, no LLM build, no slow tests).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# On this workplace's machines (CI's too) pip reaches a local mirror that holds one torch build: take exactly
# that one there. Left to itself the resolver takes the registry's newest, several GB of CUDA packages
# downloaded on top, which once filled the CI machine's disk mid-install. Elsewhere it picks a torch within
# pyproject's range.
LOCAL_TORCH := $(wildcard /etc/xdg/pip/constraints.txt /opt/pypi-more/files/torch-2.14.1-*.whl /opt/wheels/torch-2.14.1-*.whl)
TORCH_PIN := $(if $(LOCAL_TORCH),torch==2.14.1 torchvision==0.29.1,)

.PHONY: setup setup-fast run test test-fast lint browser tools bench vendor clean

# setuptools notes every editable install of a flat layout ("be careful with folders ... same name"):
# nothing to act on, so it is not printed; the package layout itself installs without warnings
define install
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(if $(TORCH_PIN),$(PIP) install -q $(TORCH_PIN),)
	PYTHONWARNINGS=ignore $(PIP) install -q -e '.[$(1)]'
endef

$(VENV)/.installed: pyproject.toml
	$(call install,dev$(comma)llm$(comma)cluster)
	touch $@ $(VENV)/.installed-fast

# everything but the local LLM (llama-cpp-python compiles llama.cpp where no wheel fits: 10-20 minutes once)
$(VENV)/.installed-fast: pyproject.toml
	$(call install,dev)
	touch $@

comma := ,
setup: $(VENV)/.installed
setup-fast: $(VENV)/.installed-fast

run: setup
	$(VENV)/bin/styleseek serve

# Debian's chromium drives the browser test (Playwright's own browser download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# The tools that make the real-device test files (tests/realfiles.py): exiftool, libheif, ImageMagick, LibRaw,
# dcraw, libvips, libjpeg-turbo's cjpeg. Tests that need a missing one are skipped with the reason.
TOOLS_PKGS := libimage-exiftool-perl libheif-examples imagemagick libraw-bin dcraw libvips-tools libjpeg-turbo-progs
tools:
	@if command -v exiftool >/dev/null && command -v heif-convert >/dev/null && [ -x /usr/bin/convert ] \
	  && command -v dcraw >/dev/null && command -v vips >/dev/null && command -v cjpeg >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TOOLS_PKGS) >/dev/null; \
	else echo "the real-file tests need: sudo apt-get install $(TOOLS_PKGS) (they are skipped without them)" >&2; fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup browser tools lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

# the quick tier, under a minute on two cores: no browser, no LLM, none of the tests marked slow
test-fast: setup-fast tools
	$(VENV)/bin/ruff check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not browser and not llm and not slow"

bench: setup
	$(PY) bench/run.py

vendor:
	bash ui/vendor.sh

# the benches' caches in the temp folder (generated photos, full-size random models: several GB) go too
BENCH_CACHES := styleseek-bench styleseek-bigscans styleseek-scale styleseek-decode-versions
clean:
	rm -rf $(VENV) .pytest_cache tests/output
	cd "$${TMPDIR:-/tmp}" && rm -rf $(BENCH_CACHES)
