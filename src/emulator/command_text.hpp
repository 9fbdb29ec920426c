#pragma once
// The command line of Discord's client as text: `/mando symmetry:12 palette:"twi light"` into
// the command and options Discord would send. Option types come from the registered command
// (what PUT .../commands stored) when there is one, else are inferred from the text (integer,
// boolean, number, string). A pure function: thread-safe, no I/O.

#include <string_view>

#include <boost/json/array.hpp>

#include "core/error.hpp"
#include "emulator/emulator_types.hpp"

namespace mando::emulator {

// `registered` is the application's command list. Errors (kInvalidArgument) say what is wrong
// with the text: no name, `name:value` expected, an unterminated quote, an option the command
// does not have, a value of the wrong type, a required option missing.
Result<CommandInvocation> parse_command_text(std::string_view text,
                                             const boost::json::array& registered);

}  // namespace mando::emulator
