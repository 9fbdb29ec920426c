// Fuzzes option validation: the fuzzer chooses option names, types, values, repetitions and a
// subcommand path; validate_options() must either refuse with a short user-facing message, or
// accept only values that satisfy the spec (checked here independently of the validator).

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "discord/command_registry.hpp"

namespace {

using namespace mando::discord;

void check(bool ok) {
  if (!ok) std::abort();
}

// Reads the fuzz input as a stream of choices; past the end everything is zero.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  template <typename T>
  T raw() {
    unsigned char buffer[sizeof(T)] = {};
    for (auto& b : buffer) b = byte();
    T value;
    std::memcpy(&value, buffer, sizeof(T));
    return value;
  }
  std::string text() {
    std::string out;
    for (std::size_t n = byte() % 40; n > 0; --n) out += static_cast<char>(byte());
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

const CommandSpec& spec() {
  static const CommandSpec* s = [] {
    auto* out = new CommandSpec();
    out->name = "mando";
    out->description = "Draw";
    out->options = {
        {.name = "style",
         .description = "Style",
         .type = OptionType::kString,
         .required = true,
         .choices = {{"Lines", std::string("lines")}, {"Bezier", std::string("bezier_fill")}}},
        {.name = "symmetry",
         .description = "n",
         .type = OptionType::kInteger,
         .min_value = 3,
         .max_value = 32},
        {.name = "layers",
         .description = "n",
         .type = OptionType::kInteger,
         .choices = {{"Few", std::int64_t{2}}, {"Many", std::int64_t{8}}}},
        {.name = "scale",
         .description = "x",
         .type = OptionType::kNumber,
         .min_value = -0.5,
         .max_value = 2.5},
        {.name = "title",
         .description = "t",
         .type = OptionType::kString,
         .min_length = 2,
         .max_length = 10},
        {.name = "public", .description = "b", .type = OptionType::kBoolean},
        {.name = "friend", .description = "u", .type = OptionType::kUser},
    };
    out->handler = [](CommandContext) -> boost::asio::awaitable<InteractionResponse> {
      co_return InteractionResponse::deferred();
    };
    return out;
  }();
  return *s;
}

const char* const kNames[] = {"style",  "symmetry", "layers", "scale", "title",
                              "public", "friend",   "",       "nope",  "STYLE"};

OptionValue value_from(Reader& in) {
  switch (in.byte() % 6) {
    case 0:
      return std::monostate{};
    case 1:
      return in.text();
    case 2:
      return static_cast<std::int64_t>(static_cast<std::int8_t>(in.byte()));  // small: hits ranges
    case 3:
      return in.raw<std::int64_t>();
    case 4:
      return in.raw<double>();
    default:
      return (in.byte() & 1) != 0;
  }
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The spec, restated independently of the validator.
void check_accepted(const InteractionData& data) {
  check(data.subcommand.empty());
  bool has_style = false;
  for (const InteractionOption& o : data.options) {
    const OptionSpec* s = nullptr;
    for (const OptionSpec& candidate : spec().options) {
      if (candidate.name == o.name) s = &candidate;
    }
    check(s != nullptr && o.type == s->type);
    Options options(data.options);
    if (o.name == "style") {
      has_style = true;
      auto v = options.get_string("style");
      check(v == "lines" || v == "bezier_fill");
    } else if (o.name == "symmetry") {
      auto v = options.get_int("symmetry");
      check(v && *v >= 3 && *v <= 32);
    } else if (o.name == "layers") {
      auto v = options.get_int("layers");
      check(v == 2 || v == 8);
    } else if (o.name == "scale") {
      auto v = options.get_number("scale");
      check(v && std::isfinite(*v) && *v >= -0.5 && *v <= 2.5);
    } else if (o.name == "title") {
      auto v = options.get_string("title");
      check(v && code_points(*v) >= 2 && code_points(*v) <= 10);
    } else if (o.name == "public") {
      check(options.get_bool("public").has_value());
    } else if (o.name == "friend") {
      auto v = options.get_string("friend");
      check(v && !v->empty() && v->find_first_not_of("0123456789") == std::string::npos);
    }
  }
  check(has_style);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  InteractionData d;
  d.name = "mando";
  if (in.byte() % 8 == 0) d.subcommand.push_back(in.text());
  for (std::size_t n = in.byte() % 8; n > 0; --n) {
    InteractionOption o;
    o.name = kNames[in.byte() % std::size(kNames)];
    o.type = static_cast<OptionType>(in.byte() % 13);  // includes 0 and 12, which do not exist
    o.value = value_from(in);
    o.focused = (in.byte() & 1) != 0;
    d.options.push_back(std::move(o));
  }

  auto valid = validate_options(spec(), d);
  if (valid) {
    check_accepted(d);
  } else {
    const std::string& message = valid.error().message;
    check(!message.empty() && message.size() <= 2000);  // Discord's content limit
    check(message.find('\n') == std::string::npos);
    check(!InteractionResponse::ephemeral(message).to_json().empty());
  }
  return 0;
}
