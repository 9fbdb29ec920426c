// Fuzzes the whole interactions path on hostile bodies: parse_interaction(), then the endpoint
// (signature check, parse, dispatch through a registry with constrained options), run to
// completion on a local io_context. Beyond "no crash, no sanitizer report", it checks:
//   - the endpoint answers 200 exactly when the parser accepts the body, 400 otherwise;
//   - every 200 body is a JSON object with a valid response type;
//   - a handler only ever sees options that satisfy its spec (validation cannot be bypassed).

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "discord/command_registry.hpp"
#include "discord/interactions_endpoint.hpp"
#include "discord/signature.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace mando::discord;

const std::string kSeed = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

void check(bool ok) {
  if (!ok) std::abort();
}

asio::awaitable<InteractionResponse> draw(CommandContext ctx) {
  // Validation ran: whatever arrives here is within the spec.
  if (auto symmetry = ctx.get_int("symmetry")) check(*symmetry >= 3 && *symmetry <= 32);
  if (auto scale = ctx.get_number("scale")) check(*scale >= 0.5 && *scale <= 2.0);
  if (auto style = ctx.get_string("style")) check(*style == "lines" || *style == "bezier_fill");
  check(ctx.options().has("style"));
  for (const auto& option : ctx.interaction.data.options) {
    check(!std::holds_alternative<std::monostate>(option.value));
  }
  co_return InteractionResponse::deferred();
}

asio::awaitable<std::vector<Choice>> suggest(AutocompleteContext ctx) {
  std::vector<Choice> choices;
  for (int i = 0; i < 30; ++i) choices.push_back({ctx.partial + std::to_string(i), ctx.partial});
  co_return choices;
}

asio::awaitable<InteractionResponse> purge(CommandContext ctx) {
  check(ctx.subcommand().size() == 2);
  check(ctx.get_int("days").value_or(0) >= 1);
  co_return InteractionResponse::ephemeral("purged");
}

asio::awaitable<InteractionResponse> update(ComponentContext ctx) {
  check(ctx.custom_id().starts_with(ctx.prefix));
  co_return InteractionResponse::update(ctx.rest);
}

std::unique_ptr<CommandRegistry> make_registry() {
  auto registry = std::make_unique<CommandRegistry>();
  CommandSpec mando;
  mando.name = "mando";
  mando.description = "Draw a mandala";
  mando.options = {
      {.name = "style",
       .description = "Style",
       .type = OptionType::kString,
       .required = true,
       .choices = {{"Lines", std::string("lines")}, {"Bezier", std::string("bezier_fill")}}},
      {.name = "symmetry",
       .description = "Symmetry",
       .type = OptionType::kInteger,
       .min_value = 3,
       .max_value = 32},
      {.name = "scale",
       .description = "Scale",
       .type = OptionType::kNumber,
       .min_value = 0.5,
       .max_value = 2},
      {.name = "title",
       .description = "Title",
       .type = OptionType::kString,
       .min_length = 1,
       .max_length = 20},
      {.name = "palette",
       .description = "Palette",
       .type = OptionType::kString,
       .autocomplete = true},
      {.name = "public", .description = "Public", .type = OptionType::kBoolean},
      {.name = "friend", .description = "Friend", .type = OptionType::kUser},
  };
  mando.handler = draw;
  mando.autocomplete = suggest;
  check(registry->add(std::move(mando)).has_value());

  CommandSpec admin;
  admin.name = "admin";
  admin.description = "Admin";
  admin.options = {{.name = "queue",
                    .description = "Queue",
                    .type = OptionType::kSubCommandGroup,
                    .options = {{.name = "purge",
                                 .description = "Purge",
                                 .type = OptionType::kSubCommand,
                                 .options = {{.name = "days",
                                              .description = "Days",
                                              .type = OptionType::kInteger,
                                              .required = true,
                                              .min_value = 1}}}}}};
  admin.handler = purge;
  check(registry->add(std::move(admin)).has_value());
  check(registry->add_component_prefix("mando:", update).has_value());
  check(registry->add_modal_prefix("mando:custom", update).has_value());
  return registry;
}

struct Fixture {
  std::unique_ptr<CommandRegistry> registry = make_registry();
  std::unique_ptr<InteractionsEndpoint> endpoint;
  Fixture() {
    auto pair = key_pair_from_secret_hex(kSeed);
    check(pair.has_value());
    auto verifier = SignatureVerifier::from_hex(pair->public_key_hex);
    check(verifier.has_value());
    endpoint = std::make_unique<InteractionsEndpoint>(std::move(*verifier), *registry);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture* fixture = new Fixture();  // lives for the whole run, like the server's
  const std::string body(reinterpret_cast<const char*>(data), size);
  const bool parses = parse_interaction(body).has_value();

  mando::net::Request request;
  request.method = "POST";
  request.target = "/interactions";
  request.body = body;
  request.headers.set("X-Signature-Timestamp", "1700000000");
  request.headers.set("X-Signature-Ed25519", sign_hex(kSeed, "1700000000" + body).value());

  asio::io_context ioc;
  std::optional<mando::net::Response> response;
  asio::co_spawn(ioc, fixture->endpoint->handle(std::move(request)),
                 [&](std::exception_ptr error, mando::net::Response r) {
                   check(error == nullptr);
                   response = std::move(r);
                 });
  ioc.run();
  check(response.has_value());
  check(response->status == (parses ? 200 : 400));
  boost::system::error_code ec;
  json::value answer = json::parse(response->body, ec);
  check(!ec && answer.is_object());
  if (response->status == 200) {
    const json::value* type = answer.as_object().if_contains("type");
    check(type != nullptr && type->is_int64() && type->get_int64() >= 1 && type->get_int64() <= 9);
    if (type->get_int64() == 8) {
      check(answer.at("data").at("choices").as_array().size() <= kMaxChoices);
    }
  }
  return 0;
}
