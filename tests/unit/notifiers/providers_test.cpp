#include "notifiers/providers.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace herald::notifiers {
namespace {

using core::reporter_type;
using core::result;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string sha = "abc1234def5678901234567890abcdef12345678";
const std::string token = "s3cr3t-t0ken";
const std::string build_url = "http://ci.example.org/#/builders/linux/builds/7";

report sample(report_kind kind = report_kind::finished, result outcome = result::failure) {
  report r;
  r.kind = kind;
  r.title = "herald";
  r.builder = "linux";
  r.number = 7;
  r.request.builder = "linux";
  r.request.branch = "main";
  r.request.revision = sha;
  r.request.owner = "alice";
  r.request.props = {{"gerrit_change", "1234"}};
  r.build_url = build_url;
  r.builder_url = "http://ci.example.org/#/builders/linux";
  r.started_at = core::clock::from_time_t(1714564800);
  if (kind == report_kind::finished) {
    r.outcome = outcome;
    r.status_detected = status_detected(outcome, result::success);
    r.steps = {{1, "compile", outcome, "exit 2", core::seconds(3)}};
    if (!core::is_good(outcome)) r.failed_step = "compile";
    r.finished_at = *r.started_at + 65s;
  }
  return r;
}

core::reporter_spec spec_of(reporter_type type, std::string url = {}) {
  core::reporter_spec s;
  s.name = "ci";
  s.type = type;
  s.url = core::secret(std::move(url));
  s.token = core::secret(token);
  return s;
}

std::shared_ptr<spdlog::logger> quiet() {
  return std::make_shared<spdlog::logger>("providers-test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

std::vector<planned> plan_of(const core::reporter_spec& s, const report& r) {
  formatter f(s, quiet());
  return plan(s, f, r);
}

planned only(const core::reporter_spec& s, const report& r) {
  auto p = plan_of(s, r);
  EXPECT_EQ(p.size(), 1u);
  if (p.empty()) throw std::runtime_error("empty plan");
  return p.front();
}

// The `state` a commit-status reporter sends for each finished result.
void expect_finished_states(const core::reporter_spec& s, const std::map<result, std::string>& want) {
  for (auto [r, state] : want)
    EXPECT_EQ(json::parse(only(s, sample(report_kind::finished, r)).req.body)["state"], state) << result_word(r);
}

std::optional<std::string> header(const std::vector<std::pair<std::string, std::string>>& hs, const std::string& name) {
  for (const auto& [n, v] : hs)
    if (n == name) return v;
  return std::nullopt;
}

// Every text a planned delivery holds, for the no-secrets checks.
std::vector<std::string> all_strings(const planned& p) {
  std::vector<std::string> out = {p.id, p.key, p.summary, p.req.method, p.req.path, p.req.body, p.req.mail_from};
  for (const auto& [n, v] : p.req.headers) {
    out.push_back(n);
    out.push_back(v);
  }
  for (const auto& t : p.req.mail_to) out.push_back(t);
  return out;
}

std::map<std::string, std::string> parse_form(const std::string& body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i] == '+' ? ' ' : s[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> fields;
  std::string_view rest = body;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    fields[decode(pair.substr(0, eq))] = decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return fields;
}

// UTF-16 code units: what the strictest "characters" counter sees.
std::size_t utf16_units(const std::string& s) {
  std::size_t n = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) == 0x80) continue;
    n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

std::string long_text() {
  std::string s;
  for (int i = 0; i < 3000; ++i) s += "\xC3\xA9\xF0\x9F\x92\xA5 ";  // é💥 and a space: 4 UTF-16 units, 7 bytes
  return s;
}

const std::string ellipsis = "\xE2\x80\xA6";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// ---- GitHub

TEST(Providers, GithubFailureStatus) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  auto p = only(s, sample());
  EXPECT_EQ(p.id, "ci/linux/7/finished");
  EXPECT_EQ(p.key, "github:octo/hello-world|" + sha + "|herald/linux");
  EXPECT_EQ(p.summary, "github status failure for linux#7 on abc1234");
  EXPECT_EQ(p.req.method, "POST");
  EXPECT_EQ(p.req.path, "/repos/octo/hello-world/statuses/" + sha);
  EXPECT_EQ(header(p.req.headers, "Accept"), "application/vnd.github+json");
  EXPECT_EQ(header(p.req.headers, "X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(header(p.req.headers, "User-Agent"), "herald");
  EXPECT_EQ(header(p.req.headers, "Content-Type"), "application/json");
  EXPECT_EQ(json::parse(p.req.body), json({{"state", "failure"},
                                           {"context", "herald/linux"},
                                           {"description", "linux #7 failed (new failure) in step compile"},
                                           {"target_url", build_url}}));
}

TEST(Providers, GithubStartedIsPendingWithTheSameKey) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  auto started = only(s, sample(report_kind::started));
  auto done = only(s, sample());
  EXPECT_EQ(started.id, "ci/linux/7/started");
  EXPECT_EQ(json::parse(started.req.body)["state"], "pending");
  EXPECT_EQ(json::parse(started.req.body)["description"], "linux #7 started");
  EXPECT_EQ(started.key, done.key);  // the newer one replaces the older in the outbox
}

TEST(Providers, GithubStateForEveryResult) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  std::map<result, std::string> want = {{result::success, "success"},  {result::warnings, "success"},
                                        {result::failure, "failure"},  {result::skipped, "success"},
                                        {result::exception, "error"},  {result::retry, "pending"},
                                        {result::cancelled, "error"}};
  expect_finished_states(s, want);
}

TEST(Providers, GithubContextIsATemplateAndTargetUrlIsOptional) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  s.context = "ci/{{builder}}/{{branch}}";
  auto r = sample();
  r.build_url.clear();
  auto p = only(s, r);
  auto body = json::parse(p.req.body);
  EXPECT_EQ(body["context"], "ci/linux/main");
  EXPECT_FALSE(body.contains("target_url"));
  EXPECT_EQ(p.key, "github:octo/hello-world|" + sha + "|ci/linux/main");
}

TEST(Providers, GithubDescriptionIsCutTo140Characters) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  s.body_template = long_text();
  auto d = json::parse(only(s, sample()).req.body)["description"].get<std::string>();
  EXPECT_LE(utf16_units(d), 140u);
  EXPECT_GE(utf16_units(d), 137u);
  EXPECT_TRUE(ends_with(d, ellipsis)) << d;
}

TEST(Providers, GithubMultiLineDescriptionBecomesOneLine) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  s.body_template = "{{builder}}\n{{result}}";
  EXPECT_EQ(json::parse(only(s, sample()).req.body)["description"], "linux failure");
}

TEST(Providers, GithubPathPartsArePercentEncoded) {
  auto s = spec_of(reporter_type::github);
  s.repository = "my org/r?po";
  auto r = sample();
  r.request.revision = "abc/../x y";
  EXPECT_EQ(only(s, r).req.path, "/repos/my%20org/r%3Fpo/statuses/abc%2F..%2Fx%20y");
}

TEST(Providers, StatusApisNeedARevision) {
  auto r = sample();
  r.request.revision.clear();
  for (auto type : {reporter_type::github, reporter_type::gitlab, reporter_type::bitbucket_cloud,
                    reporter_type::bitbucket_server}) {
    auto s = spec_of(type, "https://forge.example.org");
    s.repository = "octo/hello-world";
    EXPECT_TRUE(plan_of(s, r).empty()) << core::reporter_type_name(type);
  }
}

TEST(Providers, GithubResolveAddsTheBearerToken) {
  auto s = spec_of(reporter_type::github);
  s.repository = "octo/hello-world";
  auto p = only(s, sample());
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://api.github.com/repos/octo/hello-world/statuses/" + sha);
  EXPECT_EQ(header(e.headers, "Authorization"), "Bearer " + token);
  EXPECT_EQ(header(e.headers, "Accept"), "application/vnd.github+json");
  EXPECT_TRUE(e.username.empty());

  s.url = core::secret("https://ghe.example.org/api/v3/");
  EXPECT_EQ(resolve(s, p.req).url, "https://ghe.example.org/api/v3/repos/octo/hello-world/statuses/" + sha);
}

// ---- GitLab

TEST(Providers, GitlabFailedStatus) {
  auto s = spec_of(reporter_type::gitlab);
  s.repository = "group/sub/project";
  auto p = only(s, sample());
  EXPECT_EQ(p.req.method, "POST");
  EXPECT_EQ(p.req.path, "/projects/group%2Fsub%2Fproject/statuses/" + sha);
  EXPECT_EQ(p.key, "gitlab:group/sub/project|" + sha + "|herald/linux");
  EXPECT_EQ(json::parse(p.req.body), json({{"state", "failed"},
                                           {"name", "herald/linux"},
                                           {"ref", "main"},
                                           {"target_url", build_url},
                                           {"description", "linux #7 failed (new failure) in step compile"}}));
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://gitlab.com/api/v4/projects/group%2Fsub%2Fproject/statuses/" + sha);
  EXPECT_EQ(header(e.headers, "PRIVATE-TOKEN"), token);
  EXPECT_EQ(header(e.headers, "Authorization"), std::nullopt);
}

TEST(Providers, GitlabStateForEveryResult) {
  auto s = spec_of(reporter_type::gitlab);
  s.repository = "42";
  EXPECT_EQ(json::parse(only(s, sample(report_kind::started)).req.body)["state"], "running");
  std::map<result, std::string> want = {{result::success, "success"},  {result::warnings, "success"},
                                        {result::failure, "failed"},   {result::skipped, "skipped"},
                                        {result::exception, "failed"}, {result::retry, "pending"},
                                        {result::cancelled, "canceled"}};
  expect_finished_states(s, want);
}

TEST(Providers, GitlabFieldsKeepTo255Characters) {
  auto s = spec_of(reporter_type::gitlab);
  s.repository = "42";
  s.body_template = long_text();
  s.context = long_text();
  auto r = sample();
  r.request.branch = std::string(300, 'b');
  r.build_url = "http://ci.example.org/" + std::string(300, 'u');
  auto body = json::parse(only(s, r).req.body);
  EXPECT_LE(utf16_units(body["description"]), 255u);
  EXPECT_LE(utf16_units(body["name"]), 255u);
  EXPECT_FALSE(body.contains("ref"));         // a cut ref would name another ref
  EXPECT_FALSE(body.contains("target_url"));  // a cut URL would lead nowhere
}

// ---- Bitbucket Cloud

TEST(Providers, BitbucketCloudBuildStatus) {
  auto s = spec_of(reporter_type::bitbucket_cloud);
  s.repository = "my-team/my-repo";
  s.username = "ci-bot";
  auto p = only(s, sample());
  EXPECT_EQ(p.req.path, "/repositories/my-team/my-repo/commit/" + sha + "/statuses/build");
  EXPECT_EQ(p.key, "bitbucket_cloud:my-team/my-repo|" + sha + "|herald/linux");
  EXPECT_EQ(json::parse(p.req.body), json({{"key", "herald/linux"},
                                           {"state", "FAILED"},
                                           {"name", "herald/linux"},
                                           {"url", build_url},
                                           {"description", "linux #7 failed (new failure) in step compile"}}));
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://api.bitbucket.org/2.0/repositories/my-team/my-repo/commit/" + sha + "/statuses/build");
  EXPECT_EQ(e.username, "ci-bot");
  EXPECT_EQ(e.password, token);
  EXPECT_EQ(header(e.headers, "Authorization"), std::nullopt);

  s.username.clear();  // a repository or workspace access token
  e = resolve(s, p.req);
  EXPECT_TRUE(e.username.empty());
  EXPECT_EQ(header(e.headers, "Authorization"), "Bearer " + token);
}

TEST(Providers, BitbucketCloudStateForEveryResult) {
  auto s = spec_of(reporter_type::bitbucket_cloud);
  s.repository = "ws/repo";
  EXPECT_EQ(json::parse(only(s, sample(report_kind::started)).req.body)["state"], "INPROGRESS");
  std::map<result, std::string> want = {{result::success, "SUCCESSFUL"}, {result::warnings, "SUCCESSFUL"},
                                        {result::failure, "FAILED"},     {result::skipped, "SUCCESSFUL"},
                                        {result::exception, "FAILED"},   {result::retry, "INPROGRESS"},
                                        {result::cancelled, "STOPPED"}};
  expect_finished_states(s, want);
}

TEST(Providers, BitbucketCloudLongKeyIsHashedAndUrlFallsBack) {
  auto s = spec_of(reporter_type::bitbucket_cloud);
  s.repository = "ws/repo";
  s.context = "herald/{{builder}}/a-rather-long-branch-name/{{branch}}";
  auto r = sample();
  r.build_url.clear();
  r.builder_url.clear();
  auto body = json::parse(only(s, r).req.body);
  auto key = body["key"].get<std::string>();
  EXPECT_EQ(key.size(), 40u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos) << key;
  EXPECT_EQ(key, json::parse(only(s, r).req.body)["key"].get<std::string>());  // stable
  EXPECT_EQ(body["name"], "herald/linux/a-rather-long-branch-name/main");
  EXPECT_EQ(body["url"], "https://bitbucket.org/ws/repo/commits/" + sha);
}

// ---- Bitbucket Server / Data Center

TEST(Providers, BitbucketServerBuildStatus) {
  auto s = spec_of(reporter_type::bitbucket_server, "https://bot:pa55@Bitbucket.Example.COM:7990/");
  auto p = only(s, sample());
  EXPECT_EQ(p.req.path, "/rest/build-status/1.0/commits/" + sha);
  EXPECT_EQ(p.key, "bitbucket_server:bitbucket.example.com:7990|" + sha + "|herald/linux");
  EXPECT_EQ(json::parse(p.req.body), json({{"state", "FAILED"},
                                           {"key", "herald/linux"},
                                           {"name", "herald/linux"},
                                           {"url", build_url},
                                           {"description", "linux #7 failed (new failure) in step compile"}}));
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://bot:pa55@Bitbucket.Example.COM:7990/rest/build-status/1.0/commits/" + sha);
  EXPECT_EQ(header(e.headers, "Authorization"), "Bearer " + token);
  for (const auto& text : all_strings(p)) EXPECT_EQ(text.find("pa55"), std::string::npos) << text;
}

TEST(Providers, BitbucketServerStateForEveryResult) {
  auto s = spec_of(reporter_type::bitbucket_server, "https://bitbucket.example.com");
  EXPECT_EQ(json::parse(only(s, sample(report_kind::started)).req.body)["state"], "INPROGRESS");
  std::map<result, std::string> want = {{result::success, "SUCCESSFUL"}, {result::warnings, "SUCCESSFUL"},
                                        {result::failure, "FAILED"},     {result::skipped, "SUCCESSFUL"},
                                        {result::exception, "FAILED"},   {result::retry, "INPROGRESS"},
                                        {result::cancelled, "FAILED"}};
  expect_finished_states(s, want);
}

TEST(Providers, BitbucketServerRepositoryBuildsResource) {
  auto s = spec_of(reporter_type::bitbucket_server, "https://Bitbucket.Example.COM/bitbucket/");
  s.repository = "PROJ/my repo";
  auto p = only(s, sample());
  EXPECT_EQ(p.req.path, "/rest/api/latest/projects/PROJ/repos/my%20repo/commits/" + sha + "/builds");
  EXPECT_EQ(p.key, "bitbucket_server:bitbucket.example.com/PROJ/my repo|" + sha + "|herald/linux");
  EXPECT_EQ(json::parse(p.req.body), json({{"state", "FAILED"},
                                           {"key", "herald/linux"},
                                           {"name", "herald/linux"},
                                           {"url", build_url},
                                           {"description", "linux #7 failed (new failure) in step compile"},
                                           {"buildNumber", "7"},
                                           {"ref", "refs/heads/main"},
                                           {"duration", 65000}}));
  EXPECT_EQ(resolve(s, p.req).url,
            "https://Bitbucket.Example.COM/bitbucket/rest/api/latest/projects/PROJ/repos/my%20repo/commits/" + sha +
                "/builds");
  // A started build has no duration yet; a full ref is kept as it is.
  auto started = sample(report_kind::started);
  started.request.branch = "refs/tags/v1.0";
  auto body = json::parse(only(s, started).req.body);
  EXPECT_EQ(body["state"], "INPROGRESS");
  EXPECT_EQ(body["ref"], "refs/tags/v1.0");
  EXPECT_FALSE(body.contains("duration"));
  // No branch, no ref; no duration when the clock stepped back during the build.
  auto no_branch = sample();
  no_branch.request.branch.clear();
  no_branch.finished_at = *no_branch.started_at - 1s;
  const auto odd = json::parse(only(s, no_branch).req.body);
  EXPECT_FALSE(odd.contains("ref"));
  EXPECT_FALSE(odd.contains("duration"));
}

TEST(Providers, BitbucketServerRepositoryResourceHasCancelled) {
  auto s = spec_of(reporter_type::bitbucket_server, "https://bitbucket.example.com");
  s.repository = "PROJ/repo";
  std::map<result, std::string> want = {{result::success, "SUCCESSFUL"}, {result::warnings, "SUCCESSFUL"},
                                        {result::failure, "FAILED"},     {result::skipped, "SUCCESSFUL"},
                                        {result::exception, "FAILED"},   {result::retry, "INPROGRESS"},
                                        {result::cancelled, "CANCELLED"}};
  expect_finished_states(s, want);
}

TEST(Providers, BitbucketServerLinkFitsItsLimit) {
  auto s = spec_of(reporter_type::bitbucket_server, "https://bitbucket.example.com");
  auto r = sample();
  r.build_url = "http://ci.example.org/#/builders/" + std::string(440, 'x') + "/builds/7";  // over 450
  EXPECT_EQ(json::parse(only(s, r).req.body)["url"], "http://ci.example.org/#/builders/linux");
}

TEST(Providers, BitbucketServerNeedsALinkToTheBuild) {
  auto s = spec_of(reporter_type::bitbucket_server, "https://bitbucket.example.com");
  auto r = sample();
  r.build_url.clear();
  EXPECT_EQ(json::parse(only(s, r).req.body)["url"], "http://ci.example.org/#/builders/linux");
  r.builder_url.clear();
  EXPECT_TRUE(plan_of(s, r).empty());
}

// ---- Gerrit

TEST(Providers, GerritReviewVotesOnFinishedBuilds) {
  auto s = spec_of(reporter_type::gerrit, "https://review.example.org/");
  s.username = "herald-bot";
  auto p = only(s, sample());
  EXPECT_EQ(p.req.path, "/a/changes/1234/revisions/" + sha + "/review");
  EXPECT_EQ(p.key, "gerrit:review.example.org|" + sha + "|herald/linux");
  EXPECT_EQ(p.summary, "gerrit review for linux#7 failure on change 1234 (Verified -1)");
  auto body = json::parse(p.req.body);
  EXPECT_EQ(body["labels"], json({{"Verified", -1}}));
  EXPECT_EQ(body["tag"], "autogenerated:herald");
  EXPECT_EQ(body["message"].get<std::string>().rfind("linux #7 failure (new failure) on main abc1234", 0), 0u);
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://review.example.org/a/changes/1234/revisions/" + sha + "/review");
  EXPECT_EQ(e.username, "herald-bot");
  EXPECT_EQ(e.password, token);
  EXPECT_EQ(header(e.headers, "Authorization"), std::nullopt);
}

TEST(Providers, GerritVotesOnlyForListedResults) {
  auto s = spec_of(reporter_type::gerrit, "https://review.example.org");
  s.gerrit_label = "Build";
  s.gerrit_votes = {{result::success, 2}, {result::failure, -2}};
  std::map<result, std::optional<int>> want = {
      {result::success, 2},           {result::warnings, std::nullopt}, {result::failure, -2},
      {result::skipped, std::nullopt}, {result::exception, std::nullopt}, {result::retry, std::nullopt},
      {result::cancelled, std::nullopt}};
  for (auto [r, vote] : want) {
    auto body = json::parse(only(s, sample(report_kind::finished, r)).req.body);
    if (vote) EXPECT_EQ(body["labels"], json({{"Build", *vote}})) << result_word(r);
    else EXPECT_FALSE(body.contains("labels")) << result_word(r);
  }
  auto started = json::parse(only(s, sample(report_kind::started)).req.body);
  EXPECT_FALSE(started.contains("labels"));
  EXPECT_EQ(started["message"], "linux #7 started on main abc1234 \xE2\x80\x94 " + build_url);
}

TEST(Providers, GerritFindsTheChangeAndRevision) {
  auto s = spec_of(reporter_type::gerrit, "https://review.example.org");
  auto r = sample();
  r.request.props = {{"event.change.number", "77"}};
  EXPECT_EQ(only(s, r).req.path, "/a/changes/77/revisions/" + sha + "/review");

  r.request.revision.clear();
  r.request.props = {{"gerrit_change", "1234,5"}};
  EXPECT_EQ(only(s, r).req.path, "/a/changes/1234/revisions/5/review");
  r.request.props = {{"gerrit_change", "my/project~main~I8473b95934b5732ac55d26311a706c9c2bde9940"},
                     {"gerrit_patchset", "3"}};
  EXPECT_EQ(only(s, r).req.path,
            "/a/changes/my%2Fproject~main~I8473b95934b5732ac55d26311a706c9c2bde9940/revisions/3/review");

  r.request.props.clear();  // no change: nothing to review
  r.request.revision = sha;
  EXPECT_TRUE(plan_of(s, r).empty());
  r.request.props = {{"gerrit_change", "1234"}};
  r.request.revision.clear();  // no revision and no patch set
  EXPECT_TRUE(plan_of(s, r).empty());
}

TEST(Providers, GerritMessageKeepsUnderTheCommentLimit) {
  auto s = spec_of(reporter_type::gerrit, "https://review.example.org");
  s.body_template = long_text();
  auto m = json::parse(only(s, sample()).req.body)["message"].get<std::string>();
  EXPECT_LE(m.size(), 15000u);
  EXPECT_TRUE(ends_with(m, ellipsis));
}

// ---- generic HTTP

TEST(Providers, HttpPushPostsThePayload) {
  auto s = spec_of(reporter_type::http, "https://hooks.example.org/herald?key=" + token);
  s.headers = {{"X-Team", core::secret("infra")}, {"X-Api-Key", core::secret(token)},
               {"X-Bad", core::secret("a\r\nInjected: 1")}};
  s.token = core::secret();
  auto p = only(s, sample());
  EXPECT_EQ(p.req.method, "POST");
  EXPECT_EQ(p.req.path, "");
  EXPECT_EQ(p.key, "");
  EXPECT_EQ(header(p.req.headers, "Content-Type"), "application/json");
  EXPECT_EQ(header(p.req.headers, "Idempotency-Key"), "ci/linux/7/finished");
  EXPECT_EQ(header(p.req.headers, "X-Herald-Delivery"), "ci/linux/7/finished");
  EXPECT_EQ(header(p.req.headers, "X-Api-Key"), std::nullopt);  // added at attempt time only
  formatter f(s, quiet());
  EXPECT_EQ(json::parse(p.req.body), json::parse(f.payload(sample())));
  EXPECT_EQ(json::parse(p.req.body)["result"], "failure");

  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://hooks.example.org/herald?key=" + token);
  EXPECT_EQ(header(e.headers, "X-Team"), "infra");
  EXPECT_EQ(header(e.headers, "X-Api-Key"), token);
  EXPECT_EQ(header(e.headers, "X-Bad"), std::nullopt);
  EXPECT_EQ(header(e.headers, "Idempotency-Key"), "ci/linux/7/finished");
  EXPECT_EQ(header(e.headers, "Authorization"), std::nullopt);
  EXPECT_TRUE(e.username.empty());
}

TEST(Providers, HttpResolveAuth) {
  auto s = spec_of(reporter_type::http, "https://hooks.example.org/herald");
  auto p = only(s, sample());
  EXPECT_EQ(header(resolve(s, p.req).headers, "Authorization"), "Bearer " + token);
  s.username = "user";
  auto e = resolve(s, p.req);
  EXPECT_EQ(header(e.headers, "Authorization"), std::nullopt);
  EXPECT_EQ(e.username, "user");
  EXPECT_EQ(e.password, token);
}

TEST(Providers, HttpCustomPayloadTemplate) {
  auto s = spec_of(reporter_type::http, "https://hooks.example.org/herald");
  s.payload_template = R"({"text": "{{builder}} {{result}}", "sha": "{{short_revision}}"})";
  EXPECT_EQ(json::parse(only(s, sample()).req.body), json({{"text", "linux failure"}, {"sha", "abc1234"}}));
  s.payload_template = R"({"text": {{builder}}})";  // renders to invalid JSON: the default is sent
  EXPECT_EQ(json::parse(only(s, sample()).req.body)["event"], "build_finished");
}

// ---- chat

TEST(Providers, SlackWebhookMessage) {
  auto s = spec_of(reporter_type::slack, "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX");
  s.room = "#builds";
  auto r = sample();
  r.request.reason = "<!here>";
  s.body_template = "{{builder}} {{reason}}";
  auto p = only(s, r);
  EXPECT_EQ(p.req.method, "POST");
  EXPECT_EQ(p.req.path, "");
  EXPECT_EQ(p.key, "");
  EXPECT_EQ(p.summary, "slack message for linux#7 failure");
  EXPECT_EQ(json::parse(p.req.body), json({{"text", "linux &lt;!here&gt;"}, {"channel", "#builds"}}));
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX");
  EXPECT_EQ(header(e.headers, "Authorization"), std::nullopt);
  EXPECT_TRUE(e.username.empty());
}

TEST(Providers, ChatSubjectTemplateIsTheFirstLine) {
  auto s = spec_of(reporter_type::slack, "https://hooks.slack.com/services/x");
  s.subject_template = "*{{builder}}*";
  s.body_template = "{{result}}";
  EXPECT_EQ(json::parse(only(s, sample()).req.body)["text"], "*linux*\nfailure");
  s.body_template = "{{! nothing }}";
  EXPECT_EQ(json::parse(only(s, sample()).req.body)["text"], "*linux*");
}

TEST(Providers, SlackDefaultTextWithoutChannel) {
  auto s = spec_of(reporter_type::slack, "https://hooks.slack.com/services/x");
  auto body = json::parse(only(s, sample()).req.body);
  EXPECT_FALSE(body.contains("channel"));
  EXPECT_EQ(body["text"],
            "linux #7 failure (new failure) on main abc1234 \xE2\x80\x94 " + build_url +
                "\nfailed step: compile (exit 2)");
}

TEST(Providers, MattermostWebhookMessage) {
  auto s = spec_of(reporter_type::mattermost, "https://chat.example.org/hooks/xxx-generatedkey-xxx");
  s.room = "town-square";
  s.username = "herald";
  s.body_template = long_text() + long_text() + long_text();
  auto body = json::parse(only(s, sample()).req.body);
  EXPECT_EQ(body["channel"], "town-square");
  EXPECT_EQ(body["username"], "herald");
  EXPECT_LE(utf16_units(body["text"]), 16383u);
  EXPECT_TRUE(ends_with(body["text"], ellipsis));
}

TEST(Providers, DiscordContentIsCutAndMentionsAreOff) {
  auto s = spec_of(reporter_type::discord, "https://discord.com/api/webhooks/123/tok");
  s.body_template = "@everyone " + long_text();
  auto body = json::parse(only(s, sample()).req.body);
  auto content = body["content"].get<std::string>();
  EXPECT_LE(utf16_units(content), 2000u);
  EXPECT_GE(utf16_units(content), 1996u);
  EXPECT_TRUE(ends_with(content, ellipsis));
  EXPECT_EQ(body["allowed_mentions"], json({{"parse", json::array()}}));
}

TEST(Providers, TeamsAdaptiveCard) {
  auto s = spec_of(reporter_type::teams, "https://prod.westeurope.logic.azure.com/workflows/x/triggers/manual?sig=SIG");
  auto body = json::parse(only(s, sample()).req.body);
  EXPECT_EQ(body["type"], "message");
  ASSERT_EQ(body["attachments"].size(), 1u);
  auto a = body["attachments"][0];
  EXPECT_EQ(a["contentType"], "application/vnd.microsoft.card.adaptive");
  auto card = a["content"];
  EXPECT_EQ(card["type"], "AdaptiveCard");
  EXPECT_EQ(card["version"], "1.4");
  ASSERT_EQ(card["body"].size(), 2u);
  EXPECT_EQ(card["body"][0], json({{"type", "TextBlock"},
                                   {"text", "linux #7 failure (new failure) on main abc1234 \xE2\x80\x94 " + build_url},
                                   {"wrap", true},
                                   {"weight", "Bolder"},
                                   {"color", "Attention"}}));
  EXPECT_EQ(card["body"][1]["text"], "failed step: compile (exit 2)");
  EXPECT_EQ(card["actions"][0], json({{"type", "Action.OpenUrl"}, {"title", "Open build"}, {"url", build_url}}));
  EXPECT_EQ(resolve(s, only(s, sample()).req).url, s.url.reveal());  // the query string stays intact
}

TEST(Providers, TeamsManyLinesStayInFewBlocks) {
  auto s = spec_of(reporter_type::teams, "https://teams.example.org/hook");
  std::string many;
  for (int i = 0; i < 100; ++i) many += "line " + std::to_string(i) + "\n";
  s.body_template = many;
  auto card = json::parse(only(s, sample()).req.body)["attachments"][0]["content"];
  ASSERT_EQ(card["body"].size(), 40u);
  EXPECT_EQ(card["body"][39]["text"].get<std::string>().rfind("line 39\n\nline 40\n\n", 0), 0u);
}

TEST(Providers, MatrixNoticeWithIdempotentTransaction) {
  auto s = spec_of(reporter_type::matrix, "https://matrix.example.org");
  s.room = "!AbCdEf:example.org";
  auto p = only(s, sample());
  EXPECT_EQ(p.req.method, "PUT");
  const std::string prefix = "/_matrix/client/v3/rooms/%21AbCdEf%3Aexample.org/send/m.room.message/";
  ASSERT_EQ(p.req.path.rfind(prefix, 0), 0u) << p.req.path;
  std::string txn = p.req.path.substr(prefix.size());
  EXPECT_EQ(txn.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789."), std::string::npos) << txn;
  EXPECT_EQ(only(s, sample()).req.path, p.req.path);  // a retry or a re-plan after a restart: the same event
  EXPECT_NE(only(s, sample(report_kind::started)).req.path, p.req.path);
  auto body = json::parse(p.req.body);
  EXPECT_EQ(body["msgtype"], "m.notice");
  EXPECT_EQ(body["m.mentions"], json::object());
  EXPECT_EQ(body["body"].get<std::string>().rfind("linux #7 failure (new failure)", 0), 0u);
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://matrix.example.org" + p.req.path);
  EXPECT_EQ(header(e.headers, "Authorization"), "Bearer " + token);

  s.room.clear();
  EXPECT_TRUE(plan_of(s, sample()).empty());
}

TEST(Providers, TelegramTokenGoesInThePathAtResolve) {
  auto s = spec_of(reporter_type::telegram);
  s.room = "-1001234567890";
  s.body_template = long_text();
  auto p = only(s, sample());
  EXPECT_EQ(p.req.path, "/sendMessage");
  auto body = json::parse(p.req.body);
  EXPECT_EQ(body["chat_id"], "-1001234567890");
  EXPECT_EQ(body["link_preview_options"], json({{"is_disabled", true}}));
  EXPECT_LE(utf16_units(body["text"]), 4096u);
  EXPECT_GE(utf16_units(body["text"]), 4092u);
  EXPECT_EQ(resolve(s, p.req).url, "https://api.telegram.org/bot" + token + "/sendMessage");
  s.url = core::secret("http://127.0.0.1:8081/");
  EXPECT_EQ(resolve(s, p.req).url, "http://127.0.0.1:8081/bot" + token + "/sendMessage");
  EXPECT_EQ(header(resolve(s, p.req).headers, "Authorization"), std::nullopt);
}

TEST(Providers, ZulipStreamMessage) {
  auto s = spec_of(reporter_type::zulip, "https://zulip.example.org");
  s.username = "herald-bot@zulip.example.org";
  s.room = "ci builds";
  auto p = only(s, sample());
  EXPECT_EQ(p.req.method, "POST");
  EXPECT_EQ(p.req.path, "/api/v1/messages");
  EXPECT_EQ(header(p.req.headers, "Content-Type"), "application/x-www-form-urlencoded");
  auto f = parse_form(p.req.body);
  EXPECT_EQ(f["type"], "stream");
  EXPECT_EQ(f["to"], "ci builds");
  EXPECT_EQ(f["topic"], "linux");
  EXPECT_EQ(f["content"], "linux #7 failure (new failure) on main abc1234 \xE2\x80\x94 " + build_url +
                              "\nfailed step: compile (exit 2)");
  EXPECT_EQ(p.req.body.find(' '), std::string::npos);
  auto e = resolve(s, p.req);
  EXPECT_EQ(e.url, "https://zulip.example.org/api/v1/messages");
  EXPECT_EQ(e.username, "herald-bot@zulip.example.org");
  EXPECT_EQ(e.password, token);
}

TEST(Providers, ZulipTopicAndContentLimits) {
  auto s = spec_of(reporter_type::zulip, "https://zulip.example.org");
  s.room = "ci";
  s.topic = "{{builder}} " + long_text();
  s.body_template = long_text();
  auto f = parse_form(only(s, sample()).req.body);
  EXPECT_LE(utf16_units(f["topic"]), 60u);
  EXPECT_EQ(f["topic"].rfind("linux ", 0), 0u);
  EXPECT_LE(f["content"].size(), 10000u);
  EXPECT_TRUE(ends_with(f["content"], ellipsis));
}

// ---- all types

TEST(Providers, MailIsPlannedElsewhere) {
  auto s = spec_of(reporter_type::mail, "smtp://mail.example.org:587");
  formatter f(s, quiet());
  EXPECT_THROW(plan(s, f, sample()), std::logic_error);
  s.username = "ci@example.org";
  auto e = resolve(s, request{});
  EXPECT_EQ(e.url, "smtp://mail.example.org:587");
  EXPECT_EQ(e.username, "ci@example.org");
  EXPECT_EQ(e.password, token);
}

core::reporter_spec full_spec(reporter_type type) {
  const std::string secret_url = "https://hooks.example.org/services/SECRETPATH/" + token;
  auto s = spec_of(type, type == reporter_type::slack || type == reporter_type::mattermost ||
                                 type == reporter_type::discord || type == reporter_type::teams ||
                                 type == reporter_type::http
                             ? secret_url
                             : "https://user:SECRETPASS@forge.example.org/");
  s.repository = "octo/hello-world";
  s.room = "!room:example.org";
  s.username = "bot";
  s.headers = {{"X-Api-Key", core::secret(token)}};
  return s;
}

TEST(Providers, NoSecretInAnyPlannedRequest) {
  for (auto name : core::reporter_type_names()) {
    auto type = *core::parse_reporter_type(name);
    if (type == reporter_type::mail) continue;
    auto s = full_spec(type);
    for (auto kind : {report_kind::started, report_kind::finished}) {
      auto planned_list = plan_of(s, sample(kind));
      ASSERT_EQ(planned_list.size(), 1u) << name;
      for (const auto& text : all_strings(planned_list.front())) {
        EXPECT_EQ(text.find(token), std::string::npos) << name << ": " << text;
        EXPECT_EQ(text.find("SECRETPATH"), std::string::npos) << name << ": " << text;
        EXPECT_EQ(text.find("SECRETPASS"), std::string::npos) << name << ": " << text;
      }
      auto e = resolve(s, planned_list.front().req);
      EXPECT_FALSE(e.url.empty()) << name;
    }
  }
}

TEST(Providers, IdsAreStableAndNameTheReport) {
  for (auto name : core::reporter_type_names()) {
    auto type = *core::parse_reporter_type(name);
    if (type == reporter_type::mail) continue;
    auto s = full_spec(type);
    EXPECT_EQ(plan_of(s, sample(report_kind::started)).at(0).id, "ci/linux/7/started") << name;
    EXPECT_EQ(plan_of(s, sample()).at(0).id, "ci/linux/7/finished") << name;
    EXPECT_EQ(plan_of(s, sample()).at(0).req.body, plan_of(s, sample()).at(0).req.body) << name;
    bool status = core::is_status_api(type);
    EXPECT_EQ(plan_of(s, sample()).at(0).key.empty(), !status) << name;
  }
}

}  // namespace
}  // namespace herald::notifiers
