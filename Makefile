# Passaparola — the two commands are `make demo` and `make test`; each sets everything up itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYBABEL := $(BIN)/pybabel
LOCALES := locales
POT := $(LOCALES)/messages.pot
PO_FILES := $(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: demo run test bench catalogs extract update-catalogs lint clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po $(STAMP)
	$(PYBABEL) compile -D messages -i $< -o $@ -l $*

catalogs: $(MO_FILES)  ## compile translations

demo: $(STAMP) catalogs  ## the playground: a browser chat page talking to the real bot
	$(BIN)/python -m bot demo

run: $(STAMP) catalogs  ## poll real Telegram with BOT_TOKEN
	$(BIN)/python -m bot run

test: $(STAMP) catalogs system-deps  ## lint, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Debian packages the tests use: GNU msgfmt (catalog checks) and Chromium (the browser test).
system-deps:
	@missing=""; \
	command -v msgfmt >/dev/null 2>&1 || missing="$$missing gettext"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "Please install:$$missing (sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

bench: $(STAMP) catalogs  ## benchmarks; prints tables and writes benches/results.md
	$(BIN)/python -m benches

extract: $(STAMP)  ## regenerate messages.pot from the code
	$(PYBABEL) extract -F babel.cfg -k ngettext:1,2 --no-wrap --sort-by-file \
	  --project Passaparola --copyright-holder "the Passaparola project" -o $(POT) .

update-catalogs: extract  ## merge messages.pot into every locale's .po
	$(PYBABEL) update -i $(POT) -d $(LOCALES) -D messages --no-wrap --ignore-obsolete

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(MO_FILES)
