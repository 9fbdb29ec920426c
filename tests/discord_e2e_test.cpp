// /mando end to end (issue 6): the real `mando serve` against the Discord emulator
// (src/emulator), which signs interactions as Discord does and answers the REST calls with
// Discord's shapes, rate-limit headers and injected faults. The emulator runs in this process on
// its own I/O thread; mando is a child process on loopback with a fresh data directory.
//
// Every wait is bounded: the emulator's long polls (a message's next version, N completed
// messages) wake on the event itself; the only polling is of mando's /metrics for a drop, which
// leaves no trace in the emulator, under a deadline.

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include "emulator/emulator_server.hpp"
#include "support/bot_e2e_fixture.hpp"
#include "support/loopback_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_data.hpp"
#include <png.h>
#include <signal.h>

namespace mando::testing {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

struct Png {
  unsigned width = 0;
  unsigned height = 0;
  std::vector<std::uint8_t> rgba;
};

// Decodes with libpng, independently of mando's encoder.
std::optional<Png> decode_png(const std::string& bytes) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return std::nullopt;
  image.format = PNG_FORMAT_RGBA;
  Png png{image.width, image.height, std::vector<std::uint8_t>(PNG_IMAGE_SIZE(image))};
  if (!png_image_finish_read(&image, nullptr, png.rgba.data(), 0, nullptr)) return std::nullopt;
  return png;
}

using Rgb = std::array<std::uint8_t, 3>;

// A width x height picture of one colour, encoded with libpng.
std::string solid_png(unsigned width, unsigned height, Rgb colour) {
  std::vector<std::uint8_t> pixels;
  for (unsigned i = 0; i < width * height; ++i)
    pixels.insert(pixels.end(), colour.begin(), colour.end());
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  std::string out(size, '\0');
  png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr);
  out.resize(size);
  return out;
}

// The largest difference, channel by channel, between the pixel at (x, y) and `colour`.
int distance(const Png& png, unsigned x, unsigned y, Rgb colour) {
  const std::size_t at = (std::size_t{y} * png.width + x) * 4;
  int d = 0;
  for (int c = 0; c < 3; ++c) d = std::max(d, std::abs(png.rgba[at + c] - int{colour[c]}));
  return d;
}

class DiscordE2eTest : public BotE2eFixture {
 protected:
  DiscordE2eTest()
      : BotE2eFixture(R"(
[cpu]
threads = 2
[queues.create-image]
min_backoff = "100ms"
max_backoff = "500ms"
[queues.reply-discord]
min_backoff = "100ms"
max_backoff = "500ms"
[queues.transform-images]
min_backoff = "100ms"
max_backoff = "500ms"
[transform]
workers = 1
)") {}

  emulator::SentInteraction mando(std::string text) { return command(std::move(text)); }
};

TEST_F(DiscordE2eTest, ASignedCommandIsDeferredThenEditedIntoThePngItAskedFor) {
  start_bot();
  auto sent = mando("/mando symmetry:12 palette:twilight size:256");
  ASSERT_TRUE(sent.message_id);
  auto message = finished(*sent.message_id);
  EXPECT_EQ(message.at("flags").as_int64() & 128, 0) << "no longer loading";
  const auto& embed = message.at("embeds").at(0).as_object();
  const std::string description(embed.at("description").as_string());
  EXPECT_TRUE(std::regex_search(
      description, std::regex(R"(/mando seed:\d+ symmetry:12 palette:twilight size:256)")))
      << description;
  EXPECT_EQ(message.at("components").at(0).at("components").as_array().size(), 3u);

  auto png = decode_png(attachment(message));
  ASSERT_TRUE(png) << "the attachment is a PNG";
  EXPECT_EQ(png->width, 256u);
  EXPECT_EQ(png->height, 256u);
  std::set<std::uint32_t> colours;
  for (std::size_t i = 0; i + 3 < png->rgba.size(); i += 4) {
    colours.insert(png->rgba[i] << 16 | png->rgba[i + 1] << 8 | png->rgba[i + 2]);
  }
  EXPECT_GT(colours.size(), 100u) << "not blank";

  auto stats = emulator().stats();
  EXPECT_EQ(stats.at("bad_user_agent").as_int64(), 0);
}

TEST_F(DiscordE2eTest, TheSameInteractionTwiceIsRenderedOnce) {
  start_bot();
  auto sent = mando("/mando size:64");
  // Discord's retry of the same interaction: the same id and token, signed again.
  auto body = json::parse(read_test_data("discord/command_mando_guild.json")).as_object();
  body["id"] = sent.interaction_id;
  body["token"] = sent.token;
  body["data"].as_object()["options"] = json::array{};
  const std::string text = json::serialize(body);
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  ASSERT_EQ(sodium_hex2bin(seed.data(), seed.size(), kEmulatorKeySeed.data(),
                           kEmulatorKeySeed.size(), nullptr, nullptr, nullptr),
            0);
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  const std::string timestamp = std::to_string(std::time(nullptr));
  const std::string signed_text = timestamp + text;
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(signed_text.data()),
                       signed_text.size(), sk.data());
  std::array<char, crypto_sign_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), signature.data(), signature.size());

  net::HttpClient client(ioc_.get_executor());
  net::ClientRequest request;
  request.method = "POST";
  request.url = urls_.url + "/interactions";
  request.headers.set("Content-Type", "application/json");
  request.headers.set("X-Signature-Ed25519", hex.data());
  request.headers.set("X-Signature-Timestamp", timestamp);
  request.body = text;
  auto again = call(client.send(std::move(request)));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(again->body).at("type").as_int64(), 5);

  next_version(*sent.message_id);
  const std::string m = metrics();
  EXPECT_NE(m.find("mando_jobs_total{command=\"mando\",outcome=\"duplicate\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("mando_render_seconds_count 1\n"), std::string::npos) << m;
}

TEST_F(DiscordE2eTest, FailedPatchesAreRetriedWithBackoffUntilTheyGoThrough) {
  start_bot();
  emulator().add_fault({.method = "PATCH", .route = "@original", .count = 2, .status = 500});
  auto sent = mando("/mando size:64");
  auto message = finished(*sent.message_id);
  EXPECT_FALSE(message.at("attachments").as_array().empty());
  auto stats = emulator().stats();
  EXPECT_EQ(stats.at("rest").at("by_status").at("500").as_int64(), 2);
  EXPECT_EQ(stats.at("rest")
                .at("by_route")
                .at("PATCH /webhooks/{application.id}/{interaction.token}/messages/@original")
                .as_int64(),
            3);
}

TEST_F(DiscordE2eTest, APictureDiscordRefusesEndsWithAPlainFailureLine) {
  start_bot();
  emulator().add_fault({.method = "PATCH", .route = "@original", .count = 1, .status = 400});
  auto sent = mando("/mando size:64");
  auto message = next_version(*sent.message_id);
  const std::string content(message.at("content").as_string());
  EXPECT_NE(content.find("Discord refused the picture"), std::string::npos) << content;
  EXPECT_NE(content.find("(interaction " + sent.interaction_id + ")"), std::string::npos)
      << content;
  EXPECT_EQ(content.find("injected"), std::string::npos) << "Discord's words stay in the log";
  EXPECT_TRUE(message.at("attachments").as_array().empty());
  EXPECT_TRUE(wait_for_metric("mando_discord_replies_total{outcome=\"rejected\"} 1"));
}

TEST_F(DiscordE2eTest, A429IsWaitedOutWithoutASecondOneInARow) {
  start_bot();
  emulator().add_fault(
      {.method = "PATCH", .route = "@original", .count = 1, .status = 429, .retry_after = 0.3});
  auto sent = mando("/mando size:64");
  auto message = finished(*sent.message_id);
  EXPECT_FALSE(message.at("attachments").as_array().empty());
  auto limits = emulator().stats().at("rate_limits");
  EXPECT_EQ(limits.at("responses_429").as_int64(), 1);
  EXPECT_EQ(limits.at("consecutive_429").as_int64(), 0);
  EXPECT_EQ(limits.at("ignored_exhausted").as_int64(), 0);
}

TEST_F(DiscordE2eTest, AReplyWhoseTokenExpiredIsDroppedNotRetried) {
  start_bot();
  // Held in the queue until the token is gone.
  cli({"queues", "pause", "create-image"});
  auto sent = mando("/mando size:64");
  ASSERT_TRUE(emulator().expire(sent.interaction_id));
  cli({"queues", "resume", "create-image"});
  EXPECT_TRUE(wait_for_metric("mando_discord_replies_total{outcome=\"token_invalid\"} 1"));
  auto message = emulator().message(*sent.message_id);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->at("version").as_int64(), 1) << "still thinking: nothing was delivered";
  EXPECT_EQ(emulator().stats().at("rest").at("by_status").at("401").as_int64(), 1)
      << "one try, no retries";
}

TEST_F(DiscordE2eTest, KilledWithRepliesInFlightEveryReplyArrivesAfterARestart) {
  constexpr int kJobs = 6;
  start_bot();
  // Replies wait in their queue, renders in theirs or on the CPU pool, when mando dies. The
  // restart declares the bot's queues again, running.
  cli({"queues", "pause", "reply-discord"});
  for (int i = 0; i < kJobs; ++i) mando(fmt::format("/mando size:{}", 64 + 64 * i));
  EXPECT_EQ(emulator().stats().at("messages").at("completed").as_int64(), 0);
  processes_.back()->signal(SIGKILL);
  processes_.back()->wait(10s);
  urls_ = start_mando();
  EXPECT_TRUE(call(emulator().wait_completed(kJobs, kReplyLimit)));
  for (const auto& m : emulator().messages()) {
    const auto done = with_attachment(m.as_object());
    EXPECT_FALSE(done.at("attachments").as_array().empty()) << json::serialize(done);
  }
}

TEST_F(DiscordE2eTest, AButtonClickRerollsWithTheSameOptions) {
  start_bot();
  auto sent = mando("/mando symmetry:8 size:64");
  auto first = finished(*sent.message_id);
  const std::string reroll(
      first.at("components").at(0).at("components").at(0).at("custom_id").as_string());
  auto clicked = call(emulator().click(*sent.message_id, reroll));
  ASSERT_TRUE(clicked) << clicked.error().message;
  EXPECT_EQ(clicked->response.at("type").as_int64(), 5);
  ASSERT_TRUE(clicked->message_id);
  EXPECT_NE(*clicked->message_id, *sent.message_id) << "a new message";
  auto second = finished(*clicked->message_id);
  const std::string before(first.at("embeds").at(0).at("description").as_string());
  const std::string after(second.at("embeds").at(0).at("description").as_string());
  EXPECT_NE(before, after) << "a new seed";
  EXPECT_NE(after.find("symmetry:8 size:64"), std::string::npos) << after;
}

TEST_F(DiscordE2eTest, AWaitingJobShowsItsPlaceInLineThenTheImage) {
  start_bot({{"MANDO_BOT_PROGRESS_AFTER", "100ms"}});
  cli({"queues", "pause", "create-image"});
  auto sent = mando("/mando size:64");
  auto waiting = next_version(*sent.message_id);
  EXPECT_EQ(waiting.at("content").as_string(), "Waiting in line: 1 of 1\u2026");
  EXPECT_TRUE(waiting.at("attachments").as_array().empty());
  cli({"queues", "resume", "create-image"});
  const json::object message = with_attachment(waiting);
  EXPECT_FALSE(message.at("attachments").as_array().empty());
  EXPECT_EQ(message.at("content").as_string(), "");
}

// The roles as separate processes: dispatcher (queue), worker (renders and replies), ingress
// (interactions), talking over HTTP on loopback.
TEST_F(DiscordE2eTest, IngressDispatcherAndWorkerRunAsSeparateProcesses) {
  // The queue API, the worker routes and the metrics are on each process's internal listener.
  const ServeUrls dispatcher = start_mando({"serve", "--role", "dispatcher"});
  const ServeUrls worker =
      start_mando({"serve", "--role", "worker", "--data-dir", (dir_.path() / "worker").string()},
                  {{"MANDO_QUEUE_URL", dispatcher.internal_url}});
  const ServeUrls ingress =
      start_mando({"serve", "--role", "ingress", "--data-dir", (dir_.path() / "ingress").string()},
                  {{"MANDO_QUEUE_URL", dispatcher.internal_url}});
  ASSERT_FALSE(dispatcher.url.empty() || worker.url.empty() || ingress.url.empty());
  urls_ = dispatcher;
  for (const char* q : {"create-image", "reply-discord"}) {
    cli({"queues", "update", q, "--worker-base-url", worker.internal_url});
  }
  emulator().set_bot_url(ingress.url + "/interactions");
  auto sent = mando("/mando size:64");
  auto message = finished(*sent.message_id);
  EXPECT_FALSE(message.at("attachments").as_array().empty());
}

// /transform of two links and an attached file: the sheet shows each input in its cell, in
// order (links first); then "Transform images" on that message transforms its picture.
TEST_F(DiscordE2eTest, TransformPostsASheetOfItsInputsAndTheMenuCommandTakesAMessagesImage) {
  constexpr Rgb kRed{220, 30, 30}, kGreen{30, 200, 40}, kBlue{30, 40, 220};
  net::Router routes;
  for (const auto& [path, colour] :
       {std::pair{"/red.png", kRed}, std::pair{"/green.png", kGreen}}) {
    net::Response png;
    png.headers.set("Content-Type", "image/png");
    png.body = solid_png(400, 300, colour);
    routes.add("GET", path,
               [png](net::Request) -> asio::awaitable<net::Response> { co_return png; });
  }
  LoopbackServer images(std::move(routes));
  const auto host_port = [](const std::string& url) { return url.substr(url.find("//") + 2); };
  start_bot({{"MANDO_FETCH_ALLOW", host_port(images.url()) + "," + host_port(server_->url())},
             {"MANDO_FETCH_ALLOW_HTTP", "true"}});

  const json::object file = emulator().upload("blue.png", "image/png", solid_png(300, 400, kBlue));
  emulator::CommandInvocation transform;
  transform.name = "transform";
  transform.options = json::array{
      json::object{{"name", "urls"},
                   {"type", 3},
                   {"value", images.url() + "/red.png\n" + images.url() + "/green.png"}},
      json::object{{"name", "image1"}, {"type", 11}, {"value", file.at("id")}},
      json::object{{"name", "size"}, {"type", 4}, {"value", 128}},
      json::object{{"name", "crop"}, {"type", 3}, {"value", "centre"}},
      json::object{{"name", "format"}, {"type", 3}, {"value", "png"}},
  };
  auto sent = call(emulator().send_command(transform));
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_EQ(sent->response.at("type").as_int64(), 5) << json::serialize(sent->response);
  auto message = finished(*sent->message_id);
  EXPECT_EQ(message.at("content").as_string(), "") << "no input failed";
  const auto& embed = message.at("embeds").at(0).as_object();
  EXPECT_EQ(embed.at("title").as_string(), "3 images, 128 × 128");

  // Three cells of 256 pixels in two columns, with equal gaps between and around them.
  auto sheet = decode_png(attachment(message));
  ASSERT_TRUE(sheet) << "the sheet is a PNG";
  const unsigned gap = (sheet->width - 2 * 256) / 3;
  const Rgb expected[] = {kRed, kGreen, kBlue};
  for (unsigned k = 0; k < 3; ++k) {
    const unsigned x = gap + (k % 2) * (256 + gap) + 128, y = gap + (k / 2) * (256 + gap) + 128;
    EXPECT_LT(distance(*sheet, x, y, expected[k]), 12) << "cell " << k + 1;
  }
  // Each result on its own, linked: the third is the attached file, 128 pixels square.
  const std::string description(embed.at("description").as_string());
  std::smatch link;
  ASSERT_TRUE(std::regex_search(description, link, std::regex(R"(\[3\]\((http[^)]+)\))")))
      << description;
  net::HttpClient client(ioc_.get_executor());
  net::ClientRequest get;
  get.url = link[1];
  auto third = call(client.send(std::move(get)));
  ASSERT_TRUE(third && third->status == 200);
  auto blue = decode_png(third->body);
  ASSERT_TRUE(blue);
  EXPECT_EQ(blue->width, 128u);
  EXPECT_LT(distance(*blue, 64, 64, kBlue), 12);

  // The context menu on that message: its one picture (the sheet, which its embed shows too).
  emulator::CommandInvocation menu;
  menu.name = "Transform images";
  menu.target_message_id = *sent->message_id;
  auto used = call(emulator().send_command(menu));
  ASSERT_TRUE(used) << used.error().message;
  ASSERT_EQ(used->response.at("type").as_int64(), 5) << json::serialize(used->response);
  auto again = finished(*used->message_id);
  EXPECT_EQ(again.at("content").as_string(), "");
  EXPECT_EQ(again.at("embeds").at(0).at("title").as_string(), "1 image, 512 × 512");
  EXPECT_FALSE(attachment(again).empty());
}

}  // namespace
}  // namespace mando::testing
