# make run  : set up (Debian packages when root, .venv) and start the demo server
# make test : set up and run every check and test (what CI runs)
.PHONY: setup run serve test

STAMP := .venv/.setup-stamp

$(STAMP): scripts/setup.sh pyproject.toml sdk/pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	bash scripts/setup.sh
	touch $@

setup: $(STAMP)

run: setup
	.venv/bin/vms demo

serve: setup
	.venv/bin/vms serve

test: setup
	bash scripts/test.sh
