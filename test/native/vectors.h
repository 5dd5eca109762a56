// Tiny reader for the golden vectors in test/vectors/*.tsv (see generate.py):
// tab-separated rows, '#' lines are comments, hex fields use '-' for empty.
#pragma once
#include <string>
#include <vector>

#include "diarkis/codec.h"

namespace diarkis::test {

using Row = std::vector<std::string>;

// Rows of DIARKIS_VECTORS_DIR/<file>, comments skipped. Empty when the file is missing
// (callers assert a non-empty result so that a missing file fails the test).
std::vector<Row> readVectors(const std::string& file);

// Hex field -> bytes; "-" is empty. Fails the current test on bad hex.
Bytes hexField(const std::string& field);

}  // namespace diarkis::test
