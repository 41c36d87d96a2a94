// Logging: one line per event to stderr, "<UTC time> <LEVEL> <subsystem>: <message>".
//
// Cheap when disabled (the level check happens before formatting). Thread-safe: each line is
// written with a single write(2) so lines from different threads never interleave.
#pragma once

#include <string_view>

namespace floe::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level);
Level level();
bool parse_level(std::string_view name, Level* out);
void write(Level level, std::string_view subsystem, std::string_view message);

inline void debug(std::string_view sub, std::string_view msg) { if (level() <= Level::debug) write(Level::debug, sub, msg); }
inline void info(std::string_view sub, std::string_view msg) { if (level() <= Level::info) write(Level::info, sub, msg); }
inline void warn(std::string_view sub, std::string_view msg) { if (level() <= Level::warn) write(Level::warn, sub, msg); }
inline void error(std::string_view sub, std::string_view msg) { if (level() <= Level::error) write(Level::error, sub, msg); }

}  // namespace floe::log
