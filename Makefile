# make run       : set up (Debian packages when root, .venv) and start the demo server
# make test      : set up and run every check and test (what CI runs)
# make test-long : the slow tests at their full length (the 10-minute recording run,
#                  kill -9 x 20 over 5 minutes)
.PHONY: setup run serve test test-long

STAMP := .venv/.setup-stamp

$(STAMP): scripts/setup.sh pyproject.toml sdk/pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	bash scripts/setup.sh

setup: $(STAMP)

run: setup
	.venv/bin/vms demo

serve: setup
	.venv/bin/vms serve

test: setup
	bash scripts/test.sh

test-long: setup
	VMS_LONG_RECORDING_SECONDS=600 VMS_KILL9_SECONDS=300 VMS_KILL9_KILLS=20 \
		bash scripts/test.sh -m slow
