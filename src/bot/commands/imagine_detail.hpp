#pragma once
// What the three parts of ImagineModule share (imagine.cpp: the command, its buttons and the
// submit; imagine_events.cpp: webhooks, events and the poller; imagine_delivery.cpp: the
// finished message). Not for other modules.

#include <chrono>
#include <string_view>
#include <utility>

#include "core/blocking_call.hpp"
#include "imagine/job_store.hpp"

namespace mando::bot::commands::imagine_detail {

inline constexpr std::string_view kRerollPrefix = "imagine:reroll:";
inline constexpr std::string_view kDeletePrefix = "imagine:delete:";
inline constexpr std::string_view kCancelPrefix = "imagine:cancel:";
// "imagine:vary:" and "imagine:upscale:" + the output's blob key below "imagine/"
// ("{job}/{n}.{ext}"), which the new job takes as its image.
inline constexpr std::string_view kVaryPrefix = "imagine:vary:";
inline constexpr std::string_view kUpscalePrefix = "imagine:upscale:";
inline constexpr std::string_view kWebhookRoute = "/webhooks/imagine/";

// One blocking job store call on the CPU pool (core/blocking_call.hpp).
template <typename Method, typename... Args>
auto store_call(core::CpuPool& pool, imagine::JobStore& store, Method method, Args... args) {
  return core::blocking_call(pool, store, method, std::move(args)...);
}

}  // namespace mando::bot::commands::imagine_detail
