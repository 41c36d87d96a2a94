// Round-trip and truncation tests for every generated message and version, part 6 of 8. The
// fillers and TEST_CASEs are generated (scripts/gen_protocol.py) next to the codecs.
#include "protocol/generated/testing/fill_part6.inc"
