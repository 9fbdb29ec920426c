// Fuzzes what GPU providers hand mando: the Standard Webhooks verifier and every provider's
// JSON (Replicate predictions, fal statuses, results and webhooks, OpenAI images answers, a
// JWKS, the imagine-events update). The input is three header lines (webhook-id,
// webhook-timestamp, webhook-signature) and then the raw body. Whatever they hold:
//  - verify() accepts only when the signature header carries the entry sign() gives the body,
//    and every refusal is kUnauthenticated;
//  - a parsed update has a non-empty id, and a percentage, when there is one, in 0..100;
//  - every refusal of a parser is kInvalidArgument;
//  - an update survives its own JSON form unchanged.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "imagine/fal.hpp"
#include "imagine/fal_webhooks.hpp"
#include "imagine/openai_provider.hpp"
#include "imagine/replicate.hpp"
#include "imagine/standard_webhooks.hpp"

namespace {

using mando::ErrorKind;
using mando::imagine::StandardWebhooks;

// Aborts (a finding) naming the invariant that broke.
void check(bool ok, int line) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_imagine_webhook: the check on line %d failed\n", line);
  std::abort();
}
#define CHECK(condition) check((condition), __LINE__)

std::string_view next_line(std::string_view& rest) {
  const auto end = rest.find('\n');
  const auto line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

void check_update(const mando::Result<mando::imagine::JobUpdate>& update) {
  if (!update) {
    CHECK(update.error().kind == ErrorKind::kInvalidArgument);
    return;
  }
  CHECK(!update->provider_job_id.empty());
  CHECK(!update->percent || (*update->percent >= 0 && *update->percent <= 100));
  const auto back = mando::imagine::parse_update(mando::imagine::to_json(*update));
  CHECK(back.has_value() && back->provider_job_id == update->provider_job_id &&
        back->status == update->status && back->outputs == update->outputs &&
        back->percent == update->percent && back->error == update->error);
}

const StandardWebhooks& verifier() {
  static const StandardWebhooks hooks =
      *StandardWebhooks::create({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
  return hooks;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const auto id = next_line(rest);
  const auto timestamp = next_line(rest);
  const auto signature = next_line(rest);
  const std::string_view body = rest;

  // "Now" is the sender's timestamp when it is one, so that signatures, not clocks, decide.
  std::int64_t seconds = 0;
  for (char c : timestamp.substr(0, 10)) {
    if (c < '0' || c > '9') break;
    seconds = seconds * 10 + (c - '0');
  }
  seconds = std::min<std::int64_t>(seconds, 9'000'000'000);  // within the clock's range
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
  const auto verdict = verifier().verify({id, timestamp, signature}, body, now);
  if (verdict) {
    const std::string expected = verifier().sign(id, seconds, body);
    CHECK(std::to_string(seconds) == timestamp);
    CHECK((" " + std::string(signature) + " ").find(" " + expected + " ") != std::string::npos);
  } else {
    CHECK(verdict.error().kind == ErrorKind::kUnauthenticated);
  }

  namespace imagine = mando::imagine;
  check_update(imagine::replicate::parse_prediction(body));
  check_update(imagine::fal::parse_webhook(body));
  check_update(imagine::fal::parse_status("request-1", body));
  check_update(imagine::openai::parse_images(body, "sync-1"));
  check_update(imagine::parse_update(body));
  if (auto outputs = imagine::fal::parse_result(body); !outputs) {
    CHECK(outputs.error().kind == ErrorKind::kInvalidArgument);
  }
  if (auto keys = imagine::parse_jwks(body); !keys) {
    CHECK(keys.error().kind == ErrorKind::kInvalidArgument);
  }
  return 0;
}
