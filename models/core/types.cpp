#include "models/core/types.h"

namespace fpusim {

void panic(const std::string& message) { throw InternalError{message}; }

}  // namespace fpusim
