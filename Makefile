# Set-up and the two everyday jobs. Every target builds .venv from a Python >= 3.12 first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint clean reports docs cli-reference

# The packages are installed without compiling their bytecode up front (most of it is never
# imported); Python writes it on first import instead, which PYTHONDONTWRITEBYTECODE would stop:
# then every process (the test suite starts dozens) would compile what it imports again.
unexport PYTHONDONTWRITEBYTECODE

# uv installs the same packages as pip several times faster (parallel downloads, no bytecode
# compiled up front); pip itself is the fallback where uv cannot be installed or run.
$(STAMP): pyproject.toml scripts/python.sh
	@py="$$(scripts/python.sh)" || exit 1; \
	  [ -x $(PY) ] || "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet uv && $(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[test]' \
	  || { echo "uv failed: installing with pip" >&2; $(PY) -m pip install --quiet -e '.[test]'; }
	@touch $(STAMP)

## run: install, then run the main job on the shipped evidence base
run: $(STAMP)
	$(VENV)/bin/hlhbayes fit --etiology infection

## test: install, then run the whole test suite (slow sampling tests included), one worker per
## core: each test module (and the readers of one shared fit) on one worker (tests/conftest.py)
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n auto --dist loadgroup

## reports: fit the shipped evidence base and regenerate reports/infection and reports/overview
## (a fit that fails its convergence gate exits 3: its report is still written, with a banner)
reports: $(STAMP)
	$(VENV)/bin/hlhbayes fit --etiology infection --out runs/infection --force -q || [ $$? -eq 3 ]
	$(VENV)/bin/hlhbayes report runs/infection --name infection --out-dir reports
	$(VENV)/bin/hlhbayes fit --out runs/overview --force -q || [ $$? -eq 3 ]
	$(VENV)/bin/hlhbayes report runs/overview --name overview --out-dir reports

## docs: build the documentation (API reference from the docstrings) into docs/_build/html,
## strictly: a warning or a reference that does not resolve fails the build
docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -n -q -b html docs docs/_build/html

## cli-reference: regenerate docs/cli.md from the commands' --help (after changing a command)
cli-reference: $(STAMP)
	$(PY) scripts/cli_reference.py

## lint: ruff on the whole tree
lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV)
