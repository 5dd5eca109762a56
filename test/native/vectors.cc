#include "vectors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace diarkis::test {

std::vector<Row> readVectors(const std::string& file) {
  std::vector<Row> rows;
  std::ifstream in(std::string(DIARKIS_VECTORS_DIR) + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Row row;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) row.push_back(field);
    rows.push_back(std::move(row));
  }
  return rows;
}

Bytes hexField(const std::string& field) {
  Bytes out;
  if (field == "-") return out;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  EXPECT_EQ(field.size() % 2, 0u) << "odd hex length";
  for (size_t i = 0; i + 1 < field.size(); i += 2) {
    const int hi = nibble(field[i]);
    const int lo = nibble(field[i + 1]);
    EXPECT_TRUE(hi >= 0 && lo >= 0) << "bad hex at " << i;
    out.push_back(static_cast<uint8_t>(((hi & 0xF) << 4) | (lo & 0xF)));
  }
  return out;
}

}  // namespace diarkis::test
