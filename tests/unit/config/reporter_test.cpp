// [[reporter]] tables: a valid reporter of every type, the defaults, each error
// with its exact file:line:col message, secrets kept out of messages, template
// files, and the commented examples of examples/full.toml.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/config_helpers.hpp"

namespace herald::config {
namespace {

namespace fs = std::filesystem;
using core::report_mode;
using core::reporter_type;
using core::result;
using namespace std::chrono_literals;

using testing::error;
using testing::errors;
using testing::file;
using testing::temp_dir;

// "[[reporter]]" on line 1, then `body`: its first line is line 2.
std::string reporter(std::string_view body) { return "[[reporter]]\n" + std::string(body); }

// Sets an environment variable for the scope of a test.
class scoped_env {
 public:
  scoped_env(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~scoped_env() { ::unsetenv(name_.c_str()); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
};

constexpr std::string_view every_type = R"([herald]
url = "https://ci.example.org/"

[[builder]]
name = "linux"
tags = ["fast"]
[[builder.step]]
command = "true"

[[reporter]]
name = "mail"
type = "mail"
url = "smtps://smtp.example.org:465"
username = "ci"
token = "env:HERALD_TEST_SMTP_PASSWORD"
from = "ci@example.org"
to = ["dev@example.org", "ops@example.org"]
interested_users = true
lookup_domain = "example.org"
attach_logs = true
max_log_bytes = 1000
mode = ["failing", "PROBLEM", "failing"]
builders = ["linux"]
tags = ["fast"]
branches = ["main", "release/*"]
previous_builder_wide = true
subject = "{{builder}} #{{number}}"
body = "{{#failed_step}}failed at {{failed_step}}{{/failed_step}}"
tls_verify = false
tls_ca_file = "certs/ca.pem"
timeout = 10
retry_initial = 2.5
retry_max = 60
max_attempts = 5
max_age = 3600

[[reporter]]
name = "hook"
type = "http"
url = "http://127.0.0.1:8080/hook?x=1"
username = "herald"
token = "hook-password"
headers = { "X-Source" = "herald", Accept = "application/json" }
payload = '{"builder": "{{builder}}"}'

[[reporter]]
name = "github"
type = "github"
repository = "octo-org/octo-repo"
token = "gh-token"
context = "ci/{{builder}}"
mode = "problem"

[[reporter]]
name = "gitlab"
type = "gitlab"
repository = "group/sub/project"
token = "gl-token"
url = "https://gitlab.example.org/api/v4"

[[reporter]]
name = "bitbucket"
type = "bitbucket_cloud"
repository = "workspace/repo"
username = "bot"
token = "app-password"

[[reporter]]
name = "bbs"
type = "bitbucket_server"
url = "https://bitbucket.example.org:7990"
token = "bbs-token"

[[reporter]]
name = "gerrit"
type = "gerrit"
url = "https://review.example.org/"
username = "herald"
token = "gerrit-password"
gerrit_label = "Code-Review"
gerrit_votes = { success = 2, FAILURE = -2 }
report_start = false

[[reporter]]
name = "slack"
type = "slack"
url = "https://hooks.slack.com/services/T000/B000/XXXX"
room = "#builds"

[[reporter]]
name = "mattermost"
type = "mattermost"
url = "https://chat.example.org/hooks/abc"

[[reporter]]
name = "discord"
type = "discord"
url = "https://discord.com/api/webhooks/1/abc"
mode = []

[[reporter]]
name = "teams"
type = "teams"
url = "https://example.webhook.office.com/x"

[[reporter]]
name = "matrix"
type = "Matrix"
url = "https://[::1]:8448"
token = "mx-token"
room = "#builds:example.org"

[[reporter]]
name = "telegram"
type = "telegram"
token = "123:abc"
room = "-1001234567890"

[[reporter]]
name = "zulip"
type = "zulip"
url = "https://example.zulipchat.com"
username = "bot@example.zulipchat.com"
token = "zulip-key"
room = "builds"
topic = "{{builder}} builds"
)";

TEST(ConfigReporter, EveryTypeParses) {
  scoped_env password("HERALD_TEST_SMTP_PASSWORD", "smtp-secret");
  config c = parse(every_type, file);
  ASSERT_EQ(c.reporters.size(), 14u);
  std::set<reporter_type> types;
  for (const auto& r : c.reporters) types.insert(r.type);
  EXPECT_EQ(types.size(), core::reporter_type_names().size());

  const auto* mail = c.find_reporter("mail");
  ASSERT_NE(mail, nullptr);
  EXPECT_EQ(mail->type, reporter_type::mail);
  EXPECT_EQ(mail->url.reveal(), "smtps://smtp.example.org:465");
  EXPECT_EQ(mail->username, "ci");
  EXPECT_EQ(mail->token.reveal(), "smtp-secret");
  EXPECT_EQ(mail->from, "ci@example.org");
  EXPECT_EQ(mail->to, (std::vector<std::string>{"dev@example.org", "ops@example.org"}));
  EXPECT_TRUE(mail->interested_users);
  EXPECT_EQ(mail->lookup_domain, "example.org");
  EXPECT_EQ(mail->security, core::smtp_security::tls);  // from smtps://
  EXPECT_TRUE(mail->attach_logs);
  EXPECT_EQ(mail->max_log_bytes, 1000u);
  EXPECT_EQ(mail->generator.modes, (std::vector<report_mode>{report_mode::failing, report_mode::problem}));
  EXPECT_EQ(mail->generator.builders, std::vector<std::string>{"linux"});
  EXPECT_EQ(mail->generator.tags, std::vector<std::string>{"fast"});
  EXPECT_EQ(mail->generator.branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_FALSE(mail->generator.report_start);
  EXPECT_TRUE(mail->generator.previous_builder_wide);
  EXPECT_EQ(mail->subject_template, "{{builder}} #{{number}}");
  EXPECT_EQ(mail->body_template, "{{#failed_step}}failed at {{failed_step}}{{/failed_step}}");
  EXPECT_FALSE(mail->tls_verify);
  EXPECT_EQ(mail->tls_ca_file, fs::path("/srv/certs/ca.pem"));
  EXPECT_EQ(mail->timeout, 10s);
  EXPECT_EQ(mail->retry_initial, core::seconds{2.5});
  EXPECT_EQ(mail->retry_max, 60s);
  EXPECT_EQ(mail->max_attempts, 5);
  EXPECT_EQ(mail->max_age, 3600s);

  const auto* hook = c.find_reporter("hook");
  ASSERT_NE(hook, nullptr);
  EXPECT_EQ(hook->type, reporter_type::http);
  EXPECT_EQ(hook->url.reveal(), "http://127.0.0.1:8080/hook?x=1");
  EXPECT_EQ(hook->username, "herald");
  EXPECT_EQ(hook->token.reveal(), "hook-password");
  ASSERT_EQ(hook->headers.size(), 2u);
  EXPECT_EQ(hook->headers[0].first, "Accept");
  EXPECT_EQ(hook->headers[0].second.reveal(), "application/json");
  EXPECT_EQ(hook->headers[1].first, "X-Source");
  EXPECT_EQ(hook->headers[1].second.reveal(), "herald");
  EXPECT_EQ(hook->payload_template, R"({"builder": "{{builder}}"})");

  const auto* github = c.find_reporter("github");
  ASSERT_NE(github, nullptr);
  EXPECT_EQ(github->repository, "octo-org/octo-repo");
  EXPECT_EQ(github->token.reveal(), "gh-token");
  EXPECT_TRUE(github->url.empty());  // the provider's public API
  EXPECT_EQ(github->context, "ci/{{builder}}");
  EXPECT_EQ(github->generator.modes, std::vector<report_mode>{report_mode::problem});

  const auto* gitlab = c.find_reporter("gitlab");
  ASSERT_NE(gitlab, nullptr);
  EXPECT_EQ(gitlab->repository, "group/sub/project");
  EXPECT_EQ(gitlab->url.reveal(), "https://gitlab.example.org/api/v4");

  const auto* bitbucket = c.find_reporter("bitbucket");
  ASSERT_NE(bitbucket, nullptr);
  EXPECT_EQ(bitbucket->type, reporter_type::bitbucket_cloud);
  EXPECT_EQ(bitbucket->username, "bot");
  EXPECT_EQ(bitbucket->repository, "workspace/repo");

  const auto* bbs = c.find_reporter("bbs");
  ASSERT_NE(bbs, nullptr);
  EXPECT_EQ(bbs->type, reporter_type::bitbucket_server);
  EXPECT_EQ(bbs->token.reveal(), "bbs-token");
  EXPECT_TRUE(bbs->generator.report_start);

  const auto* gerrit = c.find_reporter("gerrit");
  ASSERT_NE(gerrit, nullptr);
  EXPECT_EQ(gerrit->gerrit_label, "Code-Review");
  EXPECT_EQ(gerrit->gerrit_votes, (std::map<result, int>{{result::success, 2}, {result::failure, -2}}));
  EXPECT_FALSE(gerrit->generator.report_start);  // set explicitly

  const auto* slack = c.find_reporter("slack");
  ASSERT_NE(slack, nullptr);
  EXPECT_EQ(slack->room, "#builds");
  EXPECT_EQ(slack->url.reveal(), "https://hooks.slack.com/services/T000/B000/XXXX");

  const auto* discord = c.find_reporter("discord");
  ASSERT_NE(discord, nullptr);
  EXPECT_TRUE(discord->generator.modes.empty());

  const auto* matrix = c.find_reporter("matrix");
  ASSERT_NE(matrix, nullptr);
  EXPECT_EQ(matrix->type, reporter_type::matrix);  // type names are case-insensitive
  EXPECT_EQ(matrix->room, "#builds:example.org");
  EXPECT_EQ(matrix->url.reveal(), "https://[::1]:8448");

  const auto* telegram = c.find_reporter("telegram");
  ASSERT_NE(telegram, nullptr);
  EXPECT_TRUE(telegram->url.empty());
  EXPECT_EQ(telegram->room, "-1001234567890");

  const auto* zulip = c.find_reporter("zulip");
  ASSERT_NE(zulip, nullptr);
  EXPECT_EQ(zulip->username, "bot@example.zulipchat.com");
  EXPECT_EQ(zulip->room, "builds");
  EXPECT_EQ(zulip->topic, "{{builder}} builds");

  EXPECT_EQ(c.find_reporter("nope"), nullptr);
}

TEST(ConfigReporter, Defaults) {
  config none = parse("", file);
  EXPECT_TRUE(none.reporters.empty());

  config c = parse(R"([[reporter]]
name = "gh"
type = "github"
repository = "o/r"
token = "t"
[[reporter]]
name = "chat"
type = "slack"
url = "https://hooks.slack.com/services/x"
[[reporter]]
name = "mail"
type = "mail"
url = "smtp://127.0.0.1:25"
from = "ci@example.org"
to = ["dev@example.org"]
)",
                   file);
  ASSERT_EQ(c.reporters.size(), 3u);
  const auto& gh = c.reporters[0];
  EXPECT_TRUE(gh.generator.report_start);  // a commit status goes pending at start
  EXPECT_EQ(gh.generator.modes, std::vector<report_mode>{report_mode::all});
  EXPECT_TRUE(gh.generator.builders.empty());
  EXPECT_FALSE(gh.generator.previous_builder_wide);
  EXPECT_EQ(gh.context, "herald/{{builder}}");
  EXPECT_TRUE(gh.subject_template.empty());
  EXPECT_TRUE(gh.body_template.empty());
  EXPECT_EQ(gh.timeout, 30s);
  EXPECT_EQ(gh.retry_initial, 1s);
  EXPECT_EQ(gh.retry_max, 3600s);
  EXPECT_EQ(gh.max_attempts, 0);
  EXPECT_EQ(gh.max_age, std::chrono::seconds(3 * 24 * 3600));
  EXPECT_TRUE(gh.tls_verify);
  EXPECT_TRUE(gh.tls_ca_file.empty());

  const auto& chat = c.reporters[1];
  EXPECT_FALSE(chat.generator.report_start);
  EXPECT_TRUE(chat.room.empty());
  EXPECT_EQ(chat.topic, "{{builder}}");

  const auto& mail = c.reporters[2];
  EXPECT_EQ(mail.security, core::smtp_security::starttls);
  EXPECT_FALSE(mail.interested_users);
  EXPECT_FALSE(mail.attach_logs);
  EXPECT_EQ(mail.max_log_bytes, 64u * 1024u);
  EXPECT_EQ(mail.gerrit_label, "Verified");
  EXPECT_EQ(mail.gerrit_votes.size(), 4u);
}

TEST(ConfigReporter, NameAndType) {
  EXPECT_EQ(errors("[[reporter]]\nurl = \"https://x.example.org\"\n"),
            (std::vector<std::string>{"/srv/h.toml:1:1: missing required key `name` in `reporter`",
                                      "/srv/h.toml:1:1: missing required key `type` in `reporter`"}));
  EXPECT_EQ(error(reporter("name = \"\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n")),
            "/srv/h.toml:2:8: `reporter.name` must not be empty");
  EXPECT_EQ(error(reporter("name = \"a/b\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n")),
            "/srv/h.toml:2:8: invalid reporter name `a/b`: use letters, digits, `.`, `_` and `-` "
            "(not `.` or `..` alone)");
  EXPECT_EQ(error("[[reporter]]\nname = \"d\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n"
                  "[[reporter]]\nname = \"d\"\ntype = \"teams\"\nurl = \"https://x.example.org\"\n"),
            "/srv/h.toml:6:8: duplicate reporter name `d` (first defined at line 2)");
  EXPECT_EQ(error(reporter("name = \"g\"\ntype = \"gihub\"\n")),
            "/srv/h.toml:3:8: unknown reporter type `gihub`; did you mean `github`? Expected one of: mail, "
            "http, github, gitlab, bitbucket_cloud, bitbucket_server, gerrit, slack, mattermost, discord, "
            "teams, matrix, telegram, zulip");
  EXPECT_EQ(error(reporter("name = \"g\"\ntype = 3\n")),
            "/srv/h.toml:3:8: expected a string for `reporter.type`, got an integer");
  EXPECT_EQ(error("reporter = { name = \"x\" }\n"),
            "/srv/h.toml:1:12: expected an array of tables ([[reporter]]) for `reporter`, got a table");
}

TEST(ConfigReporter, UnknownAndInapplicableKeys) {
  EXPECT_EQ(
      error(reporter("name = \"d\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\nmodes = []\n")),
      "/srv/h.toml:5:1: unknown key `reporter.modes`; did you mean `mode`?");
  EXPECT_EQ(error(reporter("name = \"g\"\ntype = \"github\"\nrepository = \"o/r\"\ntoken = \"t\"\n"
                           "from = \"ci@example.org\"\n")),
            "/srv/h.toml:6:1: `reporter.from` does not apply to type github");
  EXPECT_EQ(errors(reporter("name = \"s\"\ntype = \"slack\"\nurl = \"https://x.example.org\"\ntoken = \"t\"\n"
                            "payload = \"{}\"\ntopic = \"t\"\n")),
            (std::vector<std::string>{"/srv/h.toml:5:1: `reporter.token` does not apply to type slack",
                                      "/srv/h.toml:6:1: `reporter.payload` does not apply to type slack",
                                      "/srv/h.toml:7:1: `reporter.topic` does not apply to type slack"}));
  // Unknown type: no applicability or requirement errors on top.
  EXPECT_EQ(error(reporter("name = \"x\"\ntype = \"fax\"\nfrom = \"a@b\"\n")),
            "/srv/h.toml:3:8: unknown reporter type `fax`; expected one of: mail, http, github, gitlab, "
            "bitbucket_cloud, bitbucket_server, gerrit, slack, mattermost, discord, teams, matrix, telegram, "
            "zulip");
}

TEST(ConfigReporter, GeneratorKeys) {
  const std::string head =
      "[[builder]]\nname = \"linux\"\n[[builder.step]]\ncommand = \"true\"\n"
      "[[reporter]]\nname = \"d\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n";
  // head is 8 lines: the first key after it is on line 9.
  EXPECT_EQ(error(head + "builders = [\"linux\", \"linx\"]\n"),
            "/srv/h.toml:9:22: unknown builder `linx` in `reporter.builders`; did you mean `linux`?");
  EXPECT_EQ(error(head + "builders = [\"windows\"]\n"),
            "/srv/h.toml:9:13: unknown builder `windows` in `reporter.builders`");
  EXPECT_EQ(error(head + "mode = \"failng\"\n"),
            "/srv/h.toml:9:8: unknown report mode `failng` in `reporter.mode`; did you mean `failing`? "
            "Expected one of: failing, passing, warnings, exception, cancelled, change, problem, all");
  EXPECT_EQ(error(head + "mode = [\"all\", \"sometimes\"]\n"),
            "/srv/h.toml:9:16: unknown report mode `sometimes` in `reporter.mode`; expected one of: failing, "
            "passing, warnings, exception, cancelled, change, problem, all");
  EXPECT_EQ(
      error(head + "mode = 1\n"),
      "/srv/h.toml:9:8: expected a report mode or an array of them for `reporter.mode`, got an integer");
  EXPECT_EQ(error(head + "tags = [\"\"]\n"), "/srv/h.toml:9:9: empty string in `reporter.tags`");
  EXPECT_EQ(error(head + "branches = \"main\"\n"),
            "/srv/h.toml:9:12: expected an array of strings for `reporter.branches`, got a string");
  EXPECT_EQ(error(head + "report_start = \"yes\"\n"),
            "/srv/h.toml:9:16: expected a boolean for `reporter.report_start`, got a string");

  config c = parse(head + "mode = \"Change\"\nreport_start = true\n", file);
  EXPECT_EQ(c.reporters.at(0).generator.modes, std::vector<report_mode>{report_mode::change});
  EXPECT_TRUE(c.reporters.at(0).generator.report_start);
}

TEST(ConfigReporter, Templates) {
  const std::string head = reporter("name = \"d\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n");
  EXPECT_EQ(error(head + "body = \"{{#failed}}x\"\n"),
            "/srv/h.toml:5:8: template `reporter.body` does not parse: Unclosed section \"failed\" at 0");
  EXPECT_EQ(error(head + "subject = \"{{builder\"\n"),
            "/srv/h.toml:5:11: template `reporter.subject` does not parse: Unclosed tag at 0");
  EXPECT_EQ(error(head + "body = \"x\"\nbody_file = \"body.mustache\"\n"),
            "/srv/h.toml:6:13: `reporter.body` and `reporter.body_file` are both set; use one");
  EXPECT_EQ(error(head + "subject_file = \"\"\n"),
            "/srv/h.toml:5:16: `reporter.subject_file` must not be empty");
  EXPECT_EQ(error(head + "body_file = \"templates/missing.mustache\"\n"),
            "/srv/h.toml:5:13: `reporter.body_file`: cannot read `/srv/templates/missing.mustache`: "
            "No such file or directory");
  // An empty inline template means herald's default.
  EXPECT_TRUE(parse(head + "body = \"\"\n", file).reporters.at(0).body_template.empty());

  const std::string github =
      reporter("name = \"g\"\ntype = \"github\"\nrepository = \"o/r\"\ntoken = \"t\"\n");
  EXPECT_EQ(
      error(github + "context = \"herald/{{/builder}}\"\n"),
      "/srv/h.toml:6:11: template `reporter.context` does not parse: Unopened section \"builder\" at 7");
  EXPECT_EQ(error(github + "context = \"\"\n"), "/srv/h.toml:6:11: `reporter.context` must not be empty");
  const std::string zulip = reporter(
      "name = \"z\"\ntype = \"zulip\"\nurl = \"https://z.example.org\"\nusername = \"b@z\"\ntoken = \"k\"\n"
      "room = \"builds\"\n");
  EXPECT_EQ(error(zulip + "topic = \"{{#a}}{{/b}}\"\n"),
            "/srv/h.toml:8:9: template `reporter.topic` does not parse: Unclosed section \"a\" at 0");
  EXPECT_EQ(error(zulip + "topic = \"a\\nb\"\n"),
            "/srv/h.toml:8:9: `reporter.topic` must not contain line breaks or NUL");
}

TEST(ConfigReporter, TemplateFilesAreRelativeToTheConfigFile) {
  temp_dir dir;
  dir.write("templates/body.mustache", "{{builder}} #{{number}}\n{{text}}\n");
  dir.write("templates/bad.mustache", "line one\n{{#steps}}\n");
  dir.write("payload.json", R"({"b": "{{builder}}"})");
  fs::path cfg = dir.write("conf/herald.toml", R"([[reporter]]
name = "hook"
type = "http"
url = "https://hooks.example.org/x"
body_file = "../templates/body.mustache"
payload_file = "../payload.json"
)");
  config c = load(cfg);
  ASSERT_EQ(c.reporters.size(), 1u);
  EXPECT_EQ(c.reporters[0].body_template, "{{builder}} #{{number}}\n{{text}}\n");
  EXPECT_EQ(c.reporters[0].payload_template, R"({"b": "{{builder}}"})");

  fs::path bad = dir.write("conf/bad.toml",
                           "[[reporter]]\nname = \"hook\"\ntype = \"http\"\n"
                           "url = \"https://hooks.example.org/x\"\n"
                           "subject_file = \"../templates/bad.mustache\"\n");
  try {
    load(bad);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()), bad.string() +
                                         ":5:16: template `reporter.subject_file` does not parse: Unclosed "
                                         "section \"steps\" at 9");
  }
}

TEST(ConfigReporter, Urls) {
  auto discord = [](std::string_view url) {
    return reporter("name = \"d\"\ntype = \"discord\"\nurl = \"" + std::string(url) + "\"\n");
  };
  EXPECT_EQ(
      error(discord("hooks.example.org/T0/SECRET")),
      "/srv/h.toml:4:7: `reporter.url` is not a valid URL: it is not an absolute URL (http://host/...)");
  EXPECT_EQ(
      error(discord("ftp://example.org/SECRET")),
      "/srv/h.toml:4:7: `reporter.url` is not a valid URL: the scheme must be http or https, got `ftp`");
  EXPECT_EQ(error(discord("https:///SECRET")),
            "/srv/h.toml:4:7: `reporter.url` is not a valid URL: it has no host");
  EXPECT_EQ(error(discord("https://user:SECRET@:80/")),
            "/srv/h.toml:4:7: `reporter.url` is not a valid URL: it has no host");
  EXPECT_EQ(error(discord("https://example.org:0/SECRET")),
            "/srv/h.toml:4:7: `reporter.url` is not a valid URL: its port must be a number from 1 to 65535");
  EXPECT_EQ(error(discord("https://example.org:/SECRET")),
            "/srv/h.toml:4:7: `reporter.url` is not a valid URL: its port must be a number from 1 to 65535");
  EXPECT_EQ(error(discord("https://exa mple.org/SECRET")),
            "/srv/h.toml:4:7: `reporter.url` is not a valid URL: it contains spaces or control characters");
  EXPECT_EQ(
      error(discord("https://ex!ample.org/SECRET")),
      "/srv/h.toml:4:7: `reporter.url` is not a valid URL: its host may only have letters, digits, `.`, "
      "`-` and `_`");
  EXPECT_EQ(error(discord("https://[::1/SECRET")),
            "/srv/h.toml:4:7: `reporter.url` is not a valid URL: its IPv6 host has no closing `]`");
  EXPECT_EQ(error(discord("")), "/srv/h.toml:4:7: `reporter.url` must not be empty");
  EXPECT_EQ(parse(discord("HTTPS://user:pw@example.org:8443/a/b?c#d"), file).reporters.at(0).url.reveal(),
            "HTTPS://user:pw@example.org:8443/a/b?c#d");

  // Mail takes smtp:// and smtps:// only.
  const std::string mail = reporter("name = \"m\"\ntype = \"mail\"\nfrom = \"a@b\"\nto = [\"c@d\"]\n");
  EXPECT_EQ(
      error(mail + "url = \"https://smtp.example.org\"\n"),
      "/srv/h.toml:6:7: `reporter.url` is not a valid URL: the scheme must be smtp or smtps, got `https`");
  EXPECT_EQ(
      error(reporter("name = \"h\"\ntype = \"http\"\nurl = \"smtp://smtp.example.org\"\n")),
      "/srv/h.toml:4:7: `reporter.url` is not a valid URL: the scheme must be http or https, got `smtp`");
}

TEST(ConfigReporter, SecretsNeverAppearInDiagnostics) {
  scoped_env url("HERALD_TEST_HOOK_URL", "https://hooks.example.org:99999/services/hunter2");
  scoped_env token("HERALD_TEST_TOKEN", "hunter2\nx");
  try {
    parse(reporter("name = \"h\"\ntype = \"http\"\nurl = \"env:HERALD_TEST_HOOK_URL\"\n"
                   "token = \"env:HERALD_TEST_TOKEN\"\nheaders = { \"X-Key\" = \"hunter2\\r\" }\n"
                   "[[reporter]]\nname = \"s\"\ntype = \"slack\"\nurl = \"https://x:hunter2@:1/hunter2\"\n"),
          file);
    FAIL() << "expected config_error";
  } catch (const config_error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    EXPECT_EQ(e.diagnostics().size(), 4u) << e.what();
  }
}

TEST(ConfigReporter, SecretsFromEnvAndFiles) {
  scoped_env env("HERALD_TEST_REPORTER_TOKEN", "from-env");
  const std::string github = reporter("name = \"g\"\ntype = \"github\"\nrepository = \"o/r\"\n");
  EXPECT_EQ(
      parse(github + "token = \"env:HERALD_TEST_REPORTER_TOKEN\"\n", file).reporters.at(0).token.reveal(),
      "from-env");
  EXPECT_EQ(error(github + "token = \"env:HERALD_TEST_UNSET_TOKEN\"\n"),
            "/srv/h.toml:5:9: `reporter.token`: environment variable `HERALD_TEST_UNSET_TOKEN` is not set");
  EXPECT_EQ(error(github + "token = \"\"\n"), "/srv/h.toml:5:9: `reporter.token` must not be empty");

  temp_dir dir;
  dir.write("secrets/webhook", "https://hooks.slack.com/services/T/B/from-file\n");
  fs::path cfg = dir.write("herald.toml",
                           "[[reporter]]\nname = \"s\"\ntype = \"slack\"\n"
                           "url = \"file:secrets/webhook\"\n");
  EXPECT_EQ(load(cfg).reporters.at(0).url.reveal(), "https://hooks.slack.com/services/T/B/from-file");
}

TEST(ConfigReporter, RequiredKeysPerType) {
  EXPECT_EQ(errors(reporter("name = \"g\"\ntype = \"github\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `g` (github) needs `token`",
                                      "/srv/h.toml:1:1: reporter `g` (github) needs `repository`"}));
  EXPECT_EQ(errors(reporter("name = \"b\"\ntype = \"bitbucket_cloud\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `b` (bitbucket_cloud) needs `token`",
                                      "/srv/h.toml:1:1: reporter `b` (bitbucket_cloud) needs `repository`",
                                      "/srv/h.toml:1:1: reporter `b` (bitbucket_cloud) needs `username`"}));
  EXPECT_EQ(errors(reporter("name = \"s\"\ntype = \"bitbucket_server\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `s` (bitbucket_server) needs `url`",
                                      "/srv/h.toml:1:1: reporter `s` (bitbucket_server) needs `token`",
                                      "/srv/h.toml:1:1: reporter `s` (bitbucket_server) needs `herald.url`: "
                                      "Bitbucket Server requires a link to each build"}));
  EXPECT_EQ(errors(reporter("name = \"r\"\ntype = \"gerrit\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `r` (gerrit) needs `url`",
                                      "/srv/h.toml:1:1: reporter `r` (gerrit) needs `token`",
                                      "/srv/h.toml:1:1: reporter `r` (gerrit) needs `username`"}));
  for (std::string_view type : {"http", "slack", "mattermost", "discord", "teams"})
    EXPECT_EQ(error(reporter("name = \"x\"\ntype = \"" + std::string(type) + "\"\n")),
              "/srv/h.toml:1:1: reporter `x` (" + std::string(type) + ") needs `url`");
  EXPECT_EQ(errors(reporter("name = \"m\"\ntype = \"matrix\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `m` (matrix) needs `url`",
                                      "/srv/h.toml:1:1: reporter `m` (matrix) needs `token`",
                                      "/srv/h.toml:1:1: reporter `m` (matrix) needs `room`"}));
  EXPECT_EQ(errors(reporter("name = \"t\"\ntype = \"telegram\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `t` (telegram) needs `token`",
                                      "/srv/h.toml:1:1: reporter `t` (telegram) needs `room`"}));
  EXPECT_EQ(errors(reporter("name = \"z\"\ntype = \"zulip\"\n")),
            (std::vector<std::string>{"/srv/h.toml:1:1: reporter `z` (zulip) needs `url`",
                                      "/srv/h.toml:1:1: reporter `z` (zulip) needs `token`",
                                      "/srv/h.toml:1:1: reporter `z` (zulip) needs `room`",
                                      "/srv/h.toml:1:1: reporter `z` (zulip) needs `username`"}));
  EXPECT_EQ(errors(reporter("name = \"m\"\ntype = \"mail\"\n")),
            (std::vector<std::string>{
                "/srv/h.toml:1:1: reporter `m` (mail) needs `url`",
                "/srv/h.toml:1:1: reporter `m` (mail) needs `from`",
                "/srv/h.toml:1:1: reporter `m` (mail) needs `to` (or `interested_users = true` with "
                "`lookup_domain`)"}));
  // The table's own line, for the second of several reporters; no name: just the type.
  EXPECT_EQ(errors("[[reporter]]\nname = \"d\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n\n"
                   "[[reporter]]\ntype = \"gitlab\"\ntoken = \"t\"\n"),
            (std::vector<std::string>{"/srv/h.toml:6:1: missing required key `name` in `reporter`",
                                      "/srv/h.toml:6:1: reporter (gitlab) needs `repository`"}));
  // A key given but wrong is reported once, not again as missing.
  EXPECT_EQ(error(reporter("name = \"g\"\ntype = \"github\"\nrepository = \"o/r\"\ntoken = 5\n")),
            "/srv/h.toml:5:9: expected a string for `reporter.token`, got an integer");
}

TEST(ConfigReporter, RepositoryAndRoomShapes) {
  // repository on line 4; bitbucket_cloud also needs a username.
  auto forge = [](std::string_view type, std::string_view repository) {
    return reporter("name = \"f\"\ntype = \"" + std::string(type) + "\"\nrepository = \"" +
                    std::string(repository) + "\"\ntoken = \"t\"\n" +
                    (type == "bitbucket_cloud" ? "username = \"u\"\n" : ""));
  };
  EXPECT_EQ(error(forge("github", "octo-repo")),
            "/srv/h.toml:4:14: `reporter.repository` must be \"owner/repo\" for github, got `octo-repo`");
  EXPECT_EQ(error(forge("github", "a/b/c")),
            "/srv/h.toml:4:14: `reporter.repository` must be \"owner/repo\" for github, got `a/b/c`");
  EXPECT_EQ(
      error(forge("bitbucket_cloud", "ws/")),
      "/srv/h.toml:4:14: `reporter.repository` must be \"workspace/repo\" for bitbucket_cloud, got `ws/`");
  EXPECT_EQ(error(forge("gitlab", "project")),
            "/srv/h.toml:4:14: `reporter.repository` must be a project id or \"group/project\" for gitlab, "
            "got `project`");
  EXPECT_EQ(parse(forge("gitlab", "12345"), file).reporters.at(0).repository, "12345");
  // bitbucket_server takes "PROJECT/repo" too, but does not need it.
  const std::string site = "[herald]\nurl = \"https://ci.example.org/\"\n";
  const std::string server = "name = \"s\"\ntype = \"bitbucket_server\"\nurl = \"https://git.example.org\"\n"
                             "token = \"t\"\n";
  EXPECT_EQ(error(site + reporter(server + "repository = \"a/b/c\"\n")),
            "/srv/h.toml:8:14: `reporter.repository` must be \"PROJECT/repo\" for bitbucket_server, got `a/b/c`");
  EXPECT_EQ(parse(site + reporter(server + "repository = \"PROJ/my-repo\"\n"), file).reporters.at(0).repository,
            "PROJ/my-repo");
  EXPECT_EQ(parse(site + reporter(server), file).reporters.at(0).repository, "");
  EXPECT_EQ(parse(forge("bitbucket_cloud", "ws/repo.name"), file).reporters.at(0).repository, "ws/repo.name");

  auto chat = [](std::string_view type, std::string_view room) {
    return reporter("name = \"c\"\ntype = \"" + std::string(type) +
                    "\"\nurl = \"https://x.example.org\"\ntoken = \"t\"\nroom = \"" + std::string(room) +
                    "\"\n");
  };
  EXPECT_EQ(error(chat("matrix", "builds")),
            "/srv/h.toml:6:8: `reporter.room` must be a Matrix room id (!id:server) or alias (#name:server), "
            "got `builds`");
  EXPECT_EQ(parse(chat("matrix", "!abc:example.org"), file).reporters.at(0).room, "!abc:example.org");
  EXPECT_EQ(
      error(chat("telegram", "builds")),
      "/srv/h.toml:6:8: `reporter.room` must be a Telegram chat id (a number) or @channel, got `builds`");
  EXPECT_EQ(parse(chat("telegram", "@herald_builds"), file).reporters.at(0).room, "@herald_builds");
  EXPECT_EQ(parse(chat("telegram", "12345"), file).reporters.at(0).room, "12345");
  EXPECT_EQ(error(chat("telegram", "")), "/srv/h.toml:6:8: `reporter.room` must not be empty");
}

TEST(ConfigReporter, HttpHeadersAndUsername) {
  const std::string head = reporter("name = \"h\"\ntype = \"http\"\nurl = \"https://x.example.org\"\n");
  EXPECT_EQ(error(head + "headers = { \"X Key\" = \"v\" }\n"),
            "/srv/h.toml:5:13: invalid header name `X Key` in `reporter.headers`: use letters, digits and "
            "!#$%&'*+-.^_`|~");
  EXPECT_EQ(error(head + "headers = { X-Key = \"a\\nb\" }\n"),
            "/srv/h.toml:5:21: `reporter.headers.X-Key` must not contain line breaks or NUL");
  EXPECT_EQ(error(head + "headers = { X-Key = 1 }\n"),
            "/srv/h.toml:5:21: expected a string for `reporter.headers.X-Key`, got an integer");
  EXPECT_EQ(error(head + "headers = [\"X-Key: v\"]\n"),
            "/srv/h.toml:5:11: expected a table of strings for `reporter.headers`, got an array");
  EXPECT_EQ(error(head + "username = \"u\"\n"),
            "/srv/h.toml:5:12: `reporter.username` needs `reporter.token` (the password)");
  EXPECT_EQ(error(head + "username = \"a:b\"\ntoken = \"t\"\n"),
            "/srv/h.toml:5:12: `reporter.username` must not contain `:` (HTTP basic authentication)");
  // A bearer token alone is fine.
  EXPECT_EQ(parse(head + "token = \"t\"\n", file).reporters.at(0).token.reveal(), "t");
  // Header values are secrets: an API key can come from the environment.
  scoped_env key("HERALD_TEST_API_KEY", "k3y");
  auto c = parse(head + "headers = { X-Api-Key = \"env:HERALD_TEST_API_KEY\", X-Team = \"ci\" }\n", file);
  ASSERT_EQ(c.reporters.at(0).headers.size(), 2u);
  EXPECT_EQ(c.reporters.at(0).headers[0].second.reveal(), "k3y");
  EXPECT_EQ(c.reporters.at(0).headers[1].second.reveal(), "ci");
  EXPECT_EQ(error(head + "headers = { X-Api-Key = \"env:HERALD_TEST_NO_SUCH_VAR\" }\n"),
            "/srv/h.toml:5:25: `reporter.headers.X-Api-Key`: environment variable `HERALD_TEST_NO_SUCH_VAR` is not set");
}

TEST(ConfigReporter, GerritLabelAndVotes) {
  const std::string head = reporter(
      "name = \"r\"\ntype = \"gerrit\"\nurl = \"https://review.example.org\"\nusername = \"u\"\ntoken = "
      "\"t\"\n");
  EXPECT_EQ(error(head + "gerrit_votes = { succes = 1 }\n"),
            "/srv/h.toml:7:18: unknown result `succes` in `reporter.gerrit_votes`; did you mean `success`? "
            "Expected one of: success, warnings, failure, skipped, exception, retry, cancelled");
  EXPECT_EQ(error(head + "gerrit_votes = { success = \"+1\" }\n"),
            "/srv/h.toml:7:28: expected an integer for `reporter.gerrit_votes.success`, got a string");
  EXPECT_EQ(error(head + "gerrit_votes = [1]\n"),
            "/srv/h.toml:7:16: expected a table of result = vote for `reporter.gerrit_votes`, got an array");
  EXPECT_EQ(error(head + "gerrit_label = \"Code Review\"\n"),
            "/srv/h.toml:7:16: invalid Gerrit label `Code Review` in `reporter.gerrit_label`: use letters, "
            "digits and `-`");
  // An empty table: no votes at all (a review message only).
  EXPECT_TRUE(parse(head + "gerrit_votes = {}\n", file).reporters.at(0).gerrit_votes.empty());
}

TEST(ConfigReporter, MailKeys) {
  const std::string head = reporter("name = \"m\"\ntype = \"mail\"\nurl = \"smtp://127.0.0.1:25\"\n");
  const std::string from = "from = \"ci@example.org\"\n";
  // head is 4 lines, from is line 5: further keys start on line 6.
  EXPECT_EQ(
      error(head + "from = \"herald <ci@example.org>\"\nto = [\"a@b\"]\n"),
      "/srv/h.toml:5:8: invalid mail address `herald <ci@example.org>` in `reporter.from`: it needs one "
      "`@` and no spaces, `<`, `>`, `,`, line breaks or NUL");
  EXPECT_EQ(error(head + from + "to = [\"dev@example.org\", \"ops\"]\n"),
            "/srv/h.toml:6:26: invalid mail address `ops` in `reporter.to`: it needs one `@` and no spaces, "
            "`<`, `>`, `,`, line breaks or NUL");
  EXPECT_TRUE(error(head + from + "to = [\"a@b@c\"]\n")
                  .starts_with("/srv/h.toml:6:7: invalid mail address `a@b@c` in"));
  // A real CR LF (TOML escapes) in the address, shown escaped.
  EXPECT_TRUE(
      error(head + from + "to = [\"a@b\\r\\nBcc: x@y\"]\n")
          .starts_with("/srv/h.toml:6:7: invalid mail address `a@b\\x0d\\x0aBcc: x@y` in `reporter.to`"));
  // to may be left out when every recipient comes from the build...
  config c = parse(head + from + "interested_users = true\nlookup_domain = \"example.org\"\n", file);
  EXPECT_TRUE(c.reporters.at(0).to.empty());
  // ...but not with interested_users alone, or an empty list.
  EXPECT_EQ(
      error(head + from + "interested_users = true\n"),
      "/srv/h.toml:1:1: reporter `m` (mail) needs `to` (or `interested_users = true` with `lookup_domain`)");
  EXPECT_EQ(
      error(head + from + "to = []\n"),
      "/srv/h.toml:1:1: reporter `m` (mail) needs `to` (or `interested_users = true` with `lookup_domain`)");
  EXPECT_EQ(error(head + from + "to = [\"a@b\"]\nlookup_domain = \"example.org\"\n"),
            "/srv/h.toml:7:17: `reporter.lookup_domain` needs `reporter.interested_users = true`");
  EXPECT_EQ(
      error(head + from + "to = [\"a@b\"]\ninterested_users = true\nlookup_domain = \"@example.org\"\n"),
      "/srv/h.toml:8:17: `reporter.lookup_domain` must be a domain name (no `@`, spaces, `<`, `>` or `,`), "
      "got `@example.org`");
  EXPECT_EQ(error(head + from + "to = [\"a@b\"]\nusername = \"ci\"\n"),
            "/srv/h.toml:7:12: `reporter.username` needs `reporter.token` (the password)");
  EXPECT_EQ(error(head + from + "to = [\"a@b\"]\nmax_log_bytes = -1\n"),
            "/srv/h.toml:7:17: `reporter.max_log_bytes` must be at least 0, got -1");
  EXPECT_EQ(error(head + from + "to = [\"a@b\"]\nattach_logs = 1\n"),
            "/srv/h.toml:7:15: expected a boolean for `reporter.attach_logs`, got an integer");
  // An SMTP user name may hold ':' (only HTTP basic auth forbids it).
  EXPECT_EQ(parse(head + from + "to = [\"a@b\"]\nusername = \"a:b\"\ntoken = \"pw\"\n", file)
                .reporters.at(0)
                .username,
            "a:b");
}

TEST(ConfigReporter, MailSecurity) {
  auto mail = [](std::string_view url, std::string_view security) {
    std::string text = reporter("name = \"m\"\ntype = \"mail\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nurl = \"" +
                                std::string(url) + "\"\n");
    if (!security.empty()) text += "security = \"" + std::string(security) + "\"\n";
    return text;
  };
  EXPECT_EQ(parse(mail("smtp://mx.example.org:25", "none"), file).reporters.at(0).security,
            core::smtp_security::none);
  EXPECT_EQ(parse(mail("smtp://mx.example.org:587", ""), file).reporters.at(0).security,
            core::smtp_security::starttls);
  EXPECT_EQ(parse(mail("SMTPS://mx.example.org", ""), file).reporters.at(0).security,
            core::smtp_security::tls);
  EXPECT_EQ(parse(mail("smtps://mx.example.org", "tls"), file).reporters.at(0).security,
            core::smtp_security::tls);
  EXPECT_EQ(
      error(mail("smtp://mx.example.org", "ssl")),
      "/srv/h.toml:7:12: unknown SMTP security `ssl` in `reporter.security`: use \"none\", \"starttls\" "
      "or \"tls\"");
  EXPECT_EQ(error(mail("smtp://mx.example.org", "tls")),
            "/srv/h.toml:7:12: `reporter.security = \"tls\"` (implicit TLS) needs an smtps:// URL");
  EXPECT_EQ(error(mail("smtps://mx.example.org", "starttls")),
            "/srv/h.toml:7:12: `reporter.security` must be \"tls\" with an smtps:// URL (implicit TLS)");
}

TEST(ConfigReporter, DeliveryKeys) {
  const std::string head = reporter("name = \"d\"\ntype = \"discord\"\nurl = \"https://x.example.org\"\n");
  EXPECT_EQ(error(head + "timeout = 0\n"),
            "/srv/h.toml:5:11: `reporter.timeout` must be greater than 0, got 0");
  EXPECT_EQ(error(head + "max_age = \"1d\"\n"),
            "/srv/h.toml:5:11: expected a number of seconds for `reporter.max_age`, got a string");
  EXPECT_EQ(error(head + "max_attempts = -1\n"),
            "/srv/h.toml:5:16: `reporter.max_attempts` must be at least 0, got -1");
  EXPECT_EQ(error(head + "retry_initial = 120\nretry_max = 60\n"),
            "/srv/h.toml:5:17: `reporter.retry_initial` (120) must not exceed `reporter.retry_max` (60)");
  EXPECT_EQ(error(head + "retry_initial = 7200\n"),
            "/srv/h.toml:5:17: `reporter.retry_initial` (7200) must not exceed `reporter.retry_max` (3600)");
  EXPECT_EQ(error(head + "retry_max = 0.5\n"),
            "/srv/h.toml:5:13: `reporter.retry_initial` (1) must not exceed `reporter.retry_max` (0.5)");
  EXPECT_EQ(error(head + "tls_ca_file = \"\"\n"),
            "/srv/h.toml:5:15: `reporter.tls_ca_file` must not be empty");
  config c = parse(head + "max_attempts = 0\ntls_ca_file = \"/etc/ssl/ca.pem\"\ntimeout = 0.5\n", file);
  EXPECT_EQ(c.reporters.at(0).tls_ca_file, fs::path("/etc/ssl/ca.pem"));
  EXPECT_EQ(c.reporters.at(0).timeout, core::seconds{0.5});
}

// examples/full.toml documents every type in commented [[reporter]] tables; they
// must load once uncommented (with the env: secrets they name set).
TEST(ConfigReporter, FullExampleReportersLoadUncommented) {
#ifdef HERALD_SOURCE_DIR
  fs::path example = fs::path(HERALD_SOURCE_DIR) / "examples" / "full.toml";
  std::ifstream in(example);
  ASSERT_TRUE(in) << example;
  std::ostringstream text;
  const std::regex key_line(R"(^# (\[\[reporter\]\]|[a-z_]+ = ).*)");
  const std::regex env_ref(R"(env:([A-Z0-9_]+))");
  bool in_reporters = false;
  int uncommented = 0;
  std::vector<std::unique_ptr<scoped_env>> env;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("# ---- Push reporters")) in_reporters = true;
    if (in_reporters && std::regex_match(line, key_line)) {
      line.erase(0, 2);
      ++uncommented;
      for (std::sregex_iterator m(line.begin(), line.end(), env_ref), end; m != end; ++m) {
        std::string name = (*m)[1];
        bool is_url = name.ends_with("_URL") || name.ends_with("_WEBHOOK");
        env.push_back(
            std::make_unique<scoped_env>(name, is_url ? "https://hooks.example.org/T0/B0/secret" : "secret"));
      }
    }
    text << line << '\n';
  }
  ASSERT_TRUE(in_reporters) << "no `# ---- Push reporters` section in " << example;
  EXPECT_GE(uncommented, 3 * 14);  // [[reporter]], name and type for each type
  config c;
  try {
    c = parse(text.str(), example);
  } catch (const config_error& e) {
    FAIL() << e.what();
  }
  std::set<reporter_type> types;
  for (const auto& r : c.reporters) types.insert(r.type);
  EXPECT_EQ(types.size(), core::reporter_type_names().size()) << "one example per type";
#else
  GTEST_SKIP() << "HERALD_SOURCE_DIR is not defined for this test target";
#endif
}

}  // namespace
}  // namespace herald::config
