# Set-up and the two everyday jobs. Every target builds .venv from a Python >= 3.12 first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint clean reports

$(STAMP): pyproject.toml scripts/python.sh
	@py="$$(scripts/python.sh)" || exit 1; \
	  [ -x $(PY) ] || "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## run: install, then run the main job on the shipped evidence base
run: $(STAMP)
	$(VENV)/bin/hlhbayes fit --etiology infection

## test: install, then run the whole test suite (slow sampling tests included)
test: $(STAMP)
	$(VENV)/bin/python -m pytest

## reports: fit the shipped evidence base and regenerate reports/infection and reports/overview
## (a fit that fails its convergence gate exits 3: its report is still written, with a banner)
reports: $(STAMP)
	$(VENV)/bin/hlhbayes fit --etiology infection --out runs/infection --force -q || [ $$? -eq 3 ]
	$(VENV)/bin/hlhbayes report runs/infection --name infection --out-dir reports
	$(VENV)/bin/hlhbayes fit --out runs/overview --force -q || [ $$? -eq 3 ]
	$(VENV)/bin/hlhbayes report runs/overview --name overview --out-dir reports

## lint: ruff on the whole tree
lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV)
