# Entry points; the work is done by the scripts in scripts/.
#   make test                 formatting, vet, race tests, short fuzzing
#   make fuzz [FUZZTIME=1m]   run every Fuzz target for FUZZTIME each
#   make chat [ARGS=...]      run the example chat server

.PHONY: test chat fuzz

test:
	./scripts/test.sh

chat:
	./scripts/chat.sh $(ARGS)

fuzz:
	./scripts/fuzz.sh
