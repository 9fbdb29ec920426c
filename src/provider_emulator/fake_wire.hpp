#pragma once
// The fake provider's small pieces that need none of its state: the stand-in MP4, the
// Cancel-After and faults formats, the prompt hash its pictures grow from.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "provider_emulator/fake_provider.hpp"

namespace mando::provider_emulator {

// A stand-in MP4: an ftyp box and an mdat box around the animation's frames. It has the shape
// mando types a video by (and Discord stores), not a codec a player plays.
std::string stand_in_mp4(std::string_view frames);
// Replicate's terminal statuses.
bool terminal(std::string_view status);
std::uint64_t fnv1a(std::string_view text);
// "30s", "5m", "1h", "90" (seconds): what Cancel-After takes; nullopt otherwise.
std::optional<std::chrono::seconds> parse_cancel_after(std::string_view text);
// POST /_fake/faults: the keys set in `body` over `faults`; kInvalidArgument for an unknown or
// mistyped key.
boost::json::object to_json(const Faults& faults);
Result<Faults> parse_faults(std::string_view body, Faults faults);

}  // namespace mando::provider_emulator
