#include "core/config.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace mando::core {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mando-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  fs::path dir_;
};

const std::string kKey(64, 'a');

TEST_F(ConfigTest, DefaultsWithoutFileOrEnvironment) {
  auto c = load_config(std::nullopt, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->server.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(c->server.max_connections, 0);  // derived from the fd limit at start
  EXPECT_EQ(c->discord.api_base_url, "https://discord.com/api/v10");
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_TRUE(c->warnings.empty());
}

TEST_F(ConfigTest, TheInternalListenerDefaultsToLoopbackAndFollowsAnEphemeralPublicPort) {
  auto c = load_config(std::nullopt, {});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->server.effective_internal_listen(), "127.0.0.1:8081");
  auto ephemeral = load_config(std::nullopt, {{"MANDO_SERVER_LISTEN", "0.0.0.0:0"}});
  ASSERT_TRUE(ephemeral);
  EXPECT_EQ(ephemeral->server.effective_internal_listen(), "127.0.0.1:0");
  auto set = load_config(std::nullopt, {{"MANDO_SERVER_INTERNAL_LISTEN", "10.0.0.5:9100"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->server.effective_internal_listen(), "10.0.0.5:9100");
  auto bad = load_config(std::nullopt, {{"MANDO_SERVER_INTERNAL_LISTEN", "9100"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("internal_listen"), std::string::npos);
}

TEST_F(ConfigTest, StorageSectionFromFileAndEnvironment) {
  auto path = write("s.toml", R"(
[storage]
backend = "s3"
default_ttl = "90m"
endpoint = "http://127.0.0.1:9000"
bucket = "mando-images"
path_style = true
)");
  auto c = load_config(path,
                       {{"MANDO_STORAGE_REGION", "auto"}, {"MANDO_STORAGE_CLEANUP_INTERVAL", "0"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->storage.backend, "s3");
  EXPECT_EQ(c->storage.default_ttl, std::chrono::minutes(90));
  EXPECT_EQ(c->storage.cleanup_interval, std::chrono::milliseconds(0));
  EXPECT_EQ(c->storage.bucket, "mando-images");
  EXPECT_EQ(c->storage.region, "auto");
  EXPECT_TRUE(c->storage.path_style);
  EXPECT_NE(render_config(*c).find("path_style = true\n"), std::string::npos);

  auto bad = load_config(write("b.toml", "[storage]\nbackend = \"ftp\"\n"), {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("[storage] backend"), std::string::npos);
  auto flag = load_config(std::nullopt, {{"MANDO_STORAGE_PATH_STYLE", "yes"}});
  ASSERT_FALSE(flag);
  EXPECT_NE(flag.error().message.find("true or false"), std::string::npos);
  auto key = load_config(std::nullopt, {{"MANDO_STORAGE_URL_SIGNING_KEY", "short"}});
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("at least 32"), std::string::npos);
}

TEST_F(ConfigTest, FileValuesAndEnvironmentOverrides) {
  auto path = write("m.toml", R"(
data_dir = "/var/lib/mando"
[server]
listen = "0.0.0.0:9000"
max_body_bytes = "2MiB"
header_timeout = "5s"
io_threads = 4
max_connections = 200
[discord]
application_id = "1180000000000000001"
)");
  auto c = load_config(path, {{"MANDO_SERVER_LISTEN", "127.0.0.1:0"},
                              {"MANDO_DISCORD_PUBLIC_KEY", kKey},
                              {"MANDO_DATA_DIR", "/tmp/x"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.listen, "127.0.0.1:0");
  EXPECT_EQ(c->server.max_body_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(c->server.header_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->server.io_threads, 4);
  EXPECT_EQ(c->server.max_connections, 200);
  EXPECT_EQ(c->discord.application_id, "1180000000000000001");
  EXPECT_EQ(c->discord.public_key, kKey);
  EXPECT_EQ(c->data_dir, "/tmp/x");
}

TEST_F(ConfigTest, BadValueNamesKeySourceAndWhatIsAllowed) {
  auto path = write("m.toml", "[server]\nheader_timeout = \"soon\"\n");
  auto c = load_config(path, {});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("[server] header_timeout"), std::string::npos);
  EXPECT_NE(c.error().message.find(path), std::string::npos);
  EXPECT_NE(c.error().message.find("examples"), std::string::npos);

  auto env = load_config(std::nullopt, {{"MANDO_DISCORD_PUBLIC_KEY", "xyz"}});
  ASSERT_FALSE(env);
  EXPECT_NE(env.error().message.find("[discord] public_key (from MANDO_DISCORD_PUBLIC_KEY)"),
            std::string::npos)
      << env.error().message;
  EXPECT_NE(env.error().message.find("64 hex"), std::string::npos);

  auto range = load_config(std::nullopt, {{"MANDO_SERVER_IO_THREADS", "9999"}});
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message.find("from 0 to 256"), std::string::npos);

  auto listen = load_config(std::nullopt, {{"MANDO_SERVER_LISTEN", "8080"}});
  ASSERT_FALSE(listen);
  EXPECT_NE(listen.error().message.find("HOST:PORT"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeyInFileIsAnError) {
  auto path = write("m.toml", "[server]\nlisen = \"127.0.0.1:1\"\n");
  auto c = load_config(path, {});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("unknown key [server] lisen"), std::string::npos);
}

TEST_F(ConfigTest, SyntaxErrorGivesLineAndColumn) {
  auto path = write("m.toml", "[server\nlisten = 1\n");
  auto c = load_config(path, {});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(path + ":1:"), std::string::npos) << c.error().message;
}

TEST_F(ConfigTest, SecretsFromFilesAndRedactedInRender) {
  auto token = write("token", "s3cr3t-token\n");
  auto path = write("m.toml", "[discord]\nbot_token_file = \"" + token + "\"\n");
  auto c = load_config(path, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->discord.bot_token, "s3cr3t-token");
  auto rendered = render_config(*c);
  EXPECT_EQ(rendered.find("s3cr3t"), std::string::npos);
  EXPECT_NE(rendered.find("bot_token = \"<redacted>\""), std::string::npos);

  auto from_env = load_config(std::nullopt, {{"MANDO_DISCORD_BOT_TOKEN_FILE", token}});
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->discord.bot_token, "s3cr3t-token");

  auto both = load_config(
      std::nullopt, {{"MANDO_DISCORD_BOT_TOKEN_FILE", token}, {"MANDO_DISCORD_BOT_TOKEN", "x"}});
  EXPECT_FALSE(both);

  auto missing = load_config(std::nullopt, {{"MANDO_DISCORD_BOT_TOKEN_FILE", "/nonexistent"}});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent"), std::string::npos);
}

TEST_F(ConfigTest, SecretWrittenInFileWorksButWarns) {
  auto path = write("m.toml", "[discord]\nbot_token = \"abc\"\n");
  auto c = load_config(path, {});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->discord.bot_token, "abc");
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0].find("abc"), std::string::npos);
}

TEST_F(ConfigTest, UnknownMandoVariableWarns) {
  auto c = load_config(std::nullopt, {{"MANDO_SERVR_LISTEN", "x"}, {"HOME", "/root"}});
  ASSERT_TRUE(c);
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("MANDO_SERVR_LISTEN"), std::string::npos);
}

TEST_F(ConfigTest, RenderedConfigLoadsBackToTheSameValues) {
  auto c = load_config(std::nullopt,
                       {{"MANDO_SERVER_IDLE_TIMEOUT", "90s"}, {"MANDO_LOG_FORMAT", "json"}});
  ASSERT_TRUE(c);
  auto path = write("round.toml", render_config(*c));
  auto again = load_config(path, {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(render_config(*again), render_config(*c));
}

TEST_F(ConfigTest, DeclaredQueuesAreReadAndRenderedBack) {
  auto path = write("q.toml", R"(
[queue]
project = "bot"
dedup_window = "10m"
[queues.images]
max_dispatches_per_second = 2.5
max_concurrent_dispatches = 8
max_attempts = -1
min_backoff = "250ms"
worker_base_url = "http://127.0.0.1:9000"
[queues.replies]
paused = true
)");
  auto c = load_config(path, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->queue.project, "bot");
  EXPECT_EQ(c->queue.dedup_window, std::chrono::minutes(10));
  ASSERT_EQ(c->queues.size(), 2u);
  EXPECT_EQ(c->queues[0].id, "images");
  EXPECT_DOUBLE_EQ(c->queues[0].max_dispatches_per_second, 2.5);
  EXPECT_EQ(c->queues[0].max_concurrent_dispatches, 8);
  EXPECT_EQ(c->queues[0].max_attempts, -1);
  EXPECT_EQ(c->queues[0].min_backoff, std::chrono::milliseconds(250));
  EXPECT_EQ(c->queues[0].worker_base_url, "http://127.0.0.1:9000");
  EXPECT_TRUE(c->queues[1].paused);

  auto again = load_config(write("round.toml", render_config(*c)), {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(render_config(*again), render_config(*c));
}

TEST_F(ConfigTest, DeclaredQueueMistakesNameTheQueueAndKey) {
  auto typo = load_config(write("a.toml", "[queues.images]\nmax_atempts = 3\n"), {});
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("[queues.images] max_atempts"), std::string::npos)
      << typo.error().message;
  auto type = load_config(write("b.toml", "[queues.images]\nmin_backoff = 5\n"), {});
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message.find("must be a duration"), std::string::npos);
  auto short_key = load_config(std::nullopt, {{"MANDO_QUEUE_SIGNING_KEY", "short"}});
  ASSERT_FALSE(short_key);
  EXPECT_NE(short_key.error().message.find("at least 32 characters"), std::string::npos);
}

TEST_F(ConfigTest, BotLimitsAndGuildOverrides) {
  auto path = write("g.toml", R"(
[bot]
reply = "url"
max_running_per_user = 2
max_queued_per_user = 5
[guilds.1180000000000000020]
max_running_per_user = 6
[guilds.42]
max_queued_per_user = 0
)");
  auto c = load_config(path, {{"MANDO_BOT_MAX_IMAGE_SIZE", "1024"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->bot.reply, "url");
  EXPECT_EQ(c->bot.max_running_per_user, 2);
  EXPECT_EQ(c->bot.max_queued_per_user, 5);
  EXPECT_EQ(c->bot.max_image_size, 1024);
  ASSERT_EQ(c->guilds.size(), 2u);
  EXPECT_EQ(c->guilds[0].guild_id, "1180000000000000020");
  EXPECT_EQ(c->guilds[0].max_running_per_user, 6);
  EXPECT_EQ(c->guilds[1].guild_id, "42");

  auto again = load_config(write("round.toml", render_config(*c)), {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(render_config(*again), render_config(*c));

  auto not_an_id =
      load_config(write("bad.toml", "[guilds.general]\nmax_running_per_user = 1\n"), {});
  ASSERT_FALSE(not_an_id);
  EXPECT_NE(not_an_id.error().message.find("[guilds.general]"), std::string::npos)
      << not_an_id.error().message;
  auto negative = load_config(write("neg.toml", "[guilds.1]\nmax_queued_per_user = -1\n"), {});
  ASSERT_FALSE(negative);
  auto reply = load_config(std::nullopt, {{"MANDO_BOT_REPLY", "carrier-pigeon"}});
  ASSERT_FALSE(reply);
}

TEST_F(ConfigTest, BotGiveUpPointAndAckBudget) {
  auto defaults = load_config(std::nullopt, {});
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->bot.give_up_after, std::chrono::minutes(12));
  EXPECT_EQ(defaults->bot.ack_budget, std::chrono::seconds(2));

  auto set =
      load_config(write("b.toml", "[bot]\ngive_up_after = \"10m\"\nack_budget = \"500ms\"\n"), {});
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->bot.give_up_after, std::chrono::minutes(10));
  EXPECT_EQ(set->bot.ack_budget, std::chrono::milliseconds(500));

  // The failure line must get through before the token's 15 minutes run out.
  auto late = load_config(std::nullopt, {{"MANDO_BOT_GIVE_UP_AFTER", "15m"}});
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("give_up_after"), std::string::npos) << late.error().message;
  // Discord drops an interaction not answered within 3 seconds.
  auto slow = load_config(std::nullopt, {{"MANDO_BOT_ACK_BUDGET", "3s"}});
  ASSERT_FALSE(slow);
  EXPECT_NE(slow.error().message.find("ack_budget"), std::string::npos) << slow.error().message;
  EXPECT_FALSE(load_config(std::nullopt, {{"MANDO_BOT_ACK_BUDGET", "0s"}}));
}

TEST_F(ConfigTest, TransformLimitsFromFileAndEnvironment) {
  auto defaults = load_config(std::nullopt, {});
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->transform.max_inputs, 20);
  EXPECT_EQ(defaults->transform.max_input_bytes, 25u * 1024 * 1024);
  EXPECT_EQ(defaults->transform.max_job_bytes, 200u * 1024 * 1024);
  EXPECT_EQ(defaults->transform.max_pixels, 50'000'000u);

  auto set = load_config(write("t.toml",
                               "[transform]\nmax_inputs = 8\nmax_input_bytes = \"5MiB\"\n"
                               "download_timeout = \"10s\"\nworkers = 3\n"),
                         {{"MANDO_TRANSFORM_MAX_JOB_BYTES", "40MiB"}});
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->transform.max_inputs, 8);
  EXPECT_EQ(set->transform.max_input_bytes, 5u * 1024 * 1024);
  EXPECT_EQ(set->transform.max_job_bytes, 40u * 1024 * 1024);
  EXPECT_EQ(set->transform.download_timeout, std::chrono::seconds(10));
  EXPECT_EQ(set->transform.workers, 3);

  auto bad = load_config(std::nullopt, {{"MANDO_TRANSFORM_MAX_INPUTS", "0"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("max_inputs"), std::string::npos) << bad.error().message;
}

TEST_F(ConfigTest, FetchSectionFromFileAndEnvironment) {
  auto defaults = load_config(std::nullopt, {});
  ASSERT_TRUE(defaults);
  EXPECT_FALSE(defaults->fetch.allow_http);
  EXPECT_TRUE(defaults->fetch.allow.empty());
  EXPECT_NE(render_config(*defaults).find("[fetch]\nallow_http = false\nallow = []\n"),
            std::string::npos);

  auto path = write("f.toml", R"(
[fetch]
allow_http = true
allow = ["127.0.0.1:4567", "10.1.0.0/16", "[::1]:8080"]
)");
  auto c = load_config(path, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->fetch.allow_http);
  EXPECT_EQ(c->fetch.allow,
            (std::vector<std::string>{"127.0.0.1:4567", "10.1.0.0/16", "[::1]:8080"}));
  const auto rendered = render_config(*c);
  EXPECT_NE(rendered.find("allow = [\"127.0.0.1:4567\", \"10.1.0.0/16\", \"[::1]:8080\"]\n"),
            std::string::npos)
      << rendered;
  auto again = load_config(write("round.toml", rendered), {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(render_config(*again), rendered);

  // The environment has no arrays: one comma-separated list, spaces and empty items ignored.
  auto env = load_config(path, {{"MANDO_FETCH_ALLOW", "127.0.0.1:4567, fd00::/8,"},
                                {"MANDO_FETCH_ALLOW_HTTP", "false"}});
  ASSERT_TRUE(env) << env.error().message;
  EXPECT_FALSE(env->fetch.allow_http);
  EXPECT_EQ(env->fetch.allow, (std::vector<std::string>{"127.0.0.1:4567", "fd00::/8"}));
  EXPECT_TRUE(env->warnings.empty());
  auto cleared = load_config(path, {{"MANDO_FETCH_ALLOW", ""}});
  ASSERT_TRUE(cleared);
  EXPECT_TRUE(cleared->fetch.allow.empty());
}

TEST_F(ConfigTest, ABadFetchAllowEntryStopsTheLoadNamingIt) {
  auto env = load_config(std::nullopt, {{"MANDO_FETCH_ALLOW", "127.0.0.1:4567,10.1.0.0/33"}});
  ASSERT_FALSE(env);
  EXPECT_NE(env.error().message.find("[fetch] allow (from MANDO_FETCH_ALLOW)"), std::string::npos)
      << env.error().message;
  EXPECT_NE(env.error().message.find("\"10.1.0.0/33\""), std::string::npos);

  auto path = write("f.toml", "[fetch]\nallow = [\"example.com:443\", \"127.1:80\"]\n");
  auto file = load_config(path, {});
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("[fetch] allow (in " + path + ")"), std::string::npos)
      << file.error().message;
  EXPECT_NE(file.error().message.find("\"127.1:80\""), std::string::npos);

  auto numbers = load_config(write("n.toml", "[fetch]\nallow = [80, 443]\n"), {});
  ASSERT_FALSE(numbers);
  EXPECT_NE(numbers.error().message.find("must be an array of strings"), std::string::npos);
  auto flag = load_config(std::nullopt, {{"MANDO_FETCH_ALLOW_HTTP", "yes"}});
  ASSERT_FALSE(flag);
  EXPECT_NE(flag.error().message.find("[fetch] allow_http"), std::string::npos);
}

TEST_F(ConfigTest, ImagineSectionAndModelsAreReadAndRenderedBack) {
  auto token = write("replicate-token", "r8_secret\n");
  auto path = write("i.toml", R"(
[imagine]
public_url = "https://bot.example.com"
poll_after = "45s"
daily_per_user = 20
deny = ["forbidden phrase", "other"]
[imagine.models.flux]
provider = "replicate"
endpoint = "https://api.replicate.com/v1"
version = "black-forest-labs/flux-schnell"
api_token_file = ")" + token + R"("
input = { prompt = "{prompt}", num_outputs = "{count}", go_fast = true, sizes = [1, 2] }
description = "FLUX schnell"
price = "$0.003 per image"
[imagine.models.local-sd]
provider = "openai"
endpoint = "http://127.0.0.1:7860/v1"
max_count = 2
timeout = "90s"
)");
  auto c = load_config(path, {{"MANDO_IMAGINE_MODELS_FLUX_WEBHOOK_SECRET", "whsec_abc"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->warnings.empty()) << c->warnings.front();
  EXPECT_EQ(c->imagine.public_url, "https://bot.example.com");
  EXPECT_TRUE(c->imagine.webhooks);
  EXPECT_EQ(c->imagine.poll_after, std::chrono::seconds(45));
  EXPECT_EQ(c->imagine.daily_per_user, 20);
  EXPECT_EQ(c->imagine.deny, (std::vector<std::string>{"forbidden phrase", "other"}));
  EXPECT_EQ(c->imagine.default_model, "flux");  // the first model
  ASSERT_EQ(c->imagine.models.size(), 2u);
  const auto& flux = c->imagine.models[0];
  EXPECT_EQ(flux.name, "flux");
  EXPECT_EQ(flux.provider, "replicate");
  EXPECT_EQ(flux.version, "black-forest-labs/flux-schnell");
  EXPECT_EQ(flux.api_token, "r8_secret");
  EXPECT_EQ(flux.webhook_secret, "whsec_abc");
  EXPECT_EQ(flux.input,
            R"({"go_fast" : true,"num_outputs" : "{count}","prompt" : "{prompt}","sizes" : [1,2]})")
      << flux.input;
  const auto& local = c->imagine.models[1];
  EXPECT_EQ(local.provider, "openai");
  EXPECT_EQ(local.max_count, 2);
  EXPECT_EQ(local.timeout, std::chrono::seconds(90));

  const auto rendered = render_config(*c);
  EXPECT_EQ(rendered.find("r8_secret"), std::string::npos);
  EXPECT_EQ(rendered.find("whsec_abc"), std::string::npos);
  auto again = load_config(write("round.toml", rendered), {});
  ASSERT_TRUE(again) << again.error().message << "\n" << rendered;
  EXPECT_EQ(again->imagine.models[0].input, flux.input);
  EXPECT_EQ(render_config(*again), rendered);
}

TEST_F(ConfigTest, ImagineModelMistakesNameTheModelAndKey) {
  const auto error_for = [&](const std::string& toml, const Environment& env = {}) -> std::string {
    auto c = load_config(write("bad.toml", toml), env);
    return c ? std::string("loaded") : c.error().message;
  };
  const std::string head =
      "[imagine.models.m]\nendpoint = \"https://x.example\"\nversion = \"v\"\n";
  EXPECT_NE(error_for(head).find("provider is required"), std::string::npos) << error_for(head);
  EXPECT_NE(
      error_for(head + "provider = \"midjourney\"\n").find("must be one of replicate, fal, openai"),
      std::string::npos);
  EXPECT_NE(error_for(head + "provider = \"fal\"\nmax_count = 5\n").find("max_count (in"),
            std::string::npos);
  EXPECT_NE(
      error_for(head + "provider = \"fal\"\ncolour = 1\n").find("[imagine.models.m] colour (in"),
      std::string::npos);
  EXPECT_NE(
      error_for(
          "[imagine.models.Big]\nprovider = \"fal\"\nendpoint = \"https://x\"\nversion = \"v\"\n")
          .find("NAME must be"),
      std::string::npos);
  EXPECT_NE(error_for("[imagine]\ndefault_model = \"nope\"\n").find("no [imagine.models.nope]"),
            std::string::npos);
  EXPECT_NE(error_for("[imagine]\nmodel = \"x\"\n").find("unknown key [imagine] model"),
            std::string::npos);
  EXPECT_NE(
      error_for(head + "provider = \"fal\"\n", {{"MANDO_IMAGINE_MODELS_M_API_TOKEN", "a"},
                                                {"MANDO_IMAGINE_MODELS_M_API_TOKEN_FILE", "/x"}})
          .find("set only one"),
      std::string::npos);
  const std::string twins =
      "[imagine.models.a-b]\nprovider = \"fal\"\nendpoint = \"https://x\"\nversion = \"v/w\"\n"
      "[imagine.models.a_b]\nprovider = \"fal\"\nendpoint = \"https://x\"\nversion = \"v/w\"\n";
  EXPECT_NE(error_for(twins).find("(MANDO_IMAGINE_MODELS_A_B_...) are also those of"),
            std::string::npos)
      << error_for(twins);
}

TEST_F(ConfigTest, ImagineModelSecretWrittenInFileWarnsWithoutTheSecret) {
  auto c = load_config(write("s.toml",
                             "[imagine.models.flux]\nprovider = \"replicate\"\n"
                             "endpoint = \"https://api.replicate.com/v1\"\n"
                             "version = \"a/b\"\napi_token = \"r8_visible\"\n"),
                       {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->imagine.models[0].api_token, "r8_visible");
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0].find("r8_visible"), std::string::npos);
  EXPECT_NE(c->warnings[0].find("MANDO_IMAGINE_MODELS_FLUX_API_TOKEN"), std::string::npos);

  auto empty = load_config(write("e.toml",
                                 "[imagine.models.flux]\nprovider = \"replicate\"\n"
                                 "endpoint = \"https://api.replicate.com/v1\"\n"
                                 "version = \"a/b\"\nwebhook_secret = \"\"\n"),
                           {});
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->warnings.empty()) << "an empty value is no secret written down";
}

}  // namespace
}  // namespace mando::core
