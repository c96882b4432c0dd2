// The text summary's and the comparison table's rows, for the rows an
// architecture adds to them (Arch::summary_rows, Arch::compare_rows).
#pragma once

#include <cstdint>
#include <iomanip>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace fpusim {

inline std::string with_commas(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// `fpusim run`'s text summary: label, right-aligned value, unit or detail.
class SummaryTable {
 public:
  explicit SummaryTable(std::ostream& os) : os_(os) {}
  // A counter; the unit column is always written (two spaces, then the unit).
  void row(std::string_view label, std::uint64_t value, std::string_view unit = "") {
    os_ << "  " << std::left << std::setw(26) << label << std::right << std::setw(16) << with_commas(value) << "  "
        << unit << "\n";
  }
  // A row whose value is already text; `tail` follows it after two spaces.
  void text(std::string_view label, const std::string& value, const std::string& tail = "") {
    os_ << "  " << std::left << std::setw(26) << label << std::right << std::setw(16) << value;
    if (!tail.empty()) os_ << "  " << tail;
    os_ << "\n";
  }
  void line(const std::string& text) { os_ << "  " << text << "\n"; }
  std::ostream& stream() { return os_; }

 private:
  std::ostream& os_;
};

// A row of `fpusim compare`'s table: the sum of these counters (by name).
struct CompareRow {
  std::string_view label;
  std::vector<std::string_view> sum_of;
};

}  // namespace fpusim
