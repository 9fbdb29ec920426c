#pragma once
// Discord's rules for application command specs and for the options an interaction carries;
// internal to the discord part (command_registry.hpp is the public face).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "discord/command_registry.hpp"

namespace mando::discord::detail {

inline constexpr std::size_t kMaxChoiceNameLength = 100;

// Everything CommandRegistry::add() checks that does not depend on the commands registered
// before: names, description, handler, installation contexts, options. The error is
// kInvalidArgument naming the command and the offending field.
Result<void> check_command(const CommandSpec& spec);

// The leaf option specs for the subcommand path of `data`; kInvalidArgument with the sentence
// for the user when the path is unknown or stops at a group.
Result<const std::vector<OptionSpec>*> leaf_specs(const CommandSpec& spec,
                                                  const InteractionData& data);

// A user-supplied or Discord-supplied text shown inside `code` in a reply: bounded, on one
// line, without backticks that would end the code span.
std::string quote(std::string_view s);

// A predefined or autocomplete choice against its option (name length, value type and size).
Result<void> check_choice(const OptionSpec& option, const Choice& choice, std::string_view where);

}  // namespace mando::discord::detail
