# Everything lives in .venv at the repository root. torch==2.13.0 (CPU) is installed before the
# project on purpose: an unpinned torch would pull gigabytes of CUDA packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.eventsep-installed
APT_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont libsndfile1 espeak-ng \
    libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core

.PHONY: setup system-deps test demo clean

setup: $(STAMP)

# Debian packages (soundfonts, fluidsynth) when we are root and they are missing; otherwise we say what to install.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please install these Debian packages (as root):$$missing"; \
	  fi; \
	fi

$(STAMP): pyproject.toml | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test,text]"
	touch $(STAMP)

test: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# The main job: separate the bundled example with the shipped default model (from its reference clip and
# from its class name), write the stems to demo-output/ and print their SI-SDRi.
demo: setup
	$(VENV)/bin/eventsep demo --out demo-output

clean:
	rm -rf $(VENV) build *.egg-info demo-output
