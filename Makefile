# Everything lives in .venv at the repository root. torch==2.13.0 (CPU) is installed before the
# project on purpose: an unpinned torch would pull gigabytes of CUDA packages.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.eventsep-installed
APT_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont csound-soundfont opl3-soundfont libsndfile1 espeak-ng \
    libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 fonts-dejavu-core

.PHONY: setup system-deps test demo clean plugin plugin-deps

setup: $(STAMP)

# Debian packages when we are root and they are missing; otherwise we say what to install ($(2): what a
# missing package means then: "true" to go on, "exit 1" to stop).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Please install these Debian packages (as root):$$missing"; $(2); \
	  fi; \
	fi
endef

# soundfonts, fluidsynth and what the panel's Qt needs
system-deps:
	$(call apt_install,$(APT_PACKAGES),true)

$(STAMP): pyproject.toml | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test,text]"
	touch $(STAMP)

test: setup plugin
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

# The main job: separate the bundled example with the shipped default model (from its reference clip and
# from its class name), write the stems to demo-output/ and print their SI-SDRi.
demo: setup
	$(VENV)/bin/eventsep demo --out demo-output

clean:
	rm -rf $(VENV) build *.egg-info demo-output

# The VST3 plugin (plugin_host/vst3): JUCE from Debian, the shipped model bundled inside.
PLUGIN_APT := juce-modules-source cmake g++ pkg-config
PLUGIN_BUILD := build/vst3
PLUGIN := build/EventSep.vst3
PLUGIN_STAMP := build/.eventsep-vst3-built
PLUGIN_SOURCES := $(shell find plugin_host/vst3 -type f 2>/dev/null)
MODEL_NATIVE := engine/assets/default_onnx/native.safetensors

plugin: $(PLUGIN_STAMP)

plugin-deps:
	$(call apt_install,$(PLUGIN_APT),exit 1)

$(PLUGIN_STAMP): $(PLUGIN_SOURCES) $(MODEL_NATIVE) | plugin-deps
	cmake -S plugin_host/vst3 -B $(PLUGIN_BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(PLUGIN_BUILD) -j $$(nproc)
	rm -rf $(PLUGIN)
	cp -r $(PLUGIN_BUILD)/EventSep_artefacts/Release/VST3/EventSep.vst3 $(PLUGIN)
	mkdir -p $(PLUGIN)/Contents/Resources/model
	cp $(MODEL_NATIVE) $(PLUGIN)/Contents/Resources/model/
	cp $(PLUGIN_BUILD)/eventsep_fft_test build/
	touch $@
