// `--plugin FILE.so`: loads a policy plugin (models/plugin.h) into this
// process. Plugins stay loaded: their policies' code is called until exit.
#pragma once

#include <string>
#include <vector>

namespace fpusim {

// Loads `path` once (a second --plugin naming the same file is ignored).
// InputError naming the file: cannot be loaded, is not an fpusim plugin,
// was built for another plugin ABI, registers no policy, or a name taken.
void load_plugin(const std::string& path);

// The absolute paths of the plugins loaded so far, in load order (a sweep
// passes them to the processes it starts).
const std::vector<std::string>& loaded_plugins();

}  // namespace fpusim
