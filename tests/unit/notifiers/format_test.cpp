#include "notifiers/format.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>

namespace herald::notifiers {
namespace {

using core::reporter_type;
using core::result;
using json = nlohmann::json;
using namespace std::chrono_literals;
using namespace std::string_literals;

// 2024-05-01T12:00:00Z
const core::time_point t0 = core::clock::from_time_t(1714564800);

report sample(report_kind kind = report_kind::finished, result outcome = result::failure) {
  report r;
  r.kind = kind;
  r.seq = 42;
  r.title = "herald";
  r.builder = "linux";
  r.tags = {"fast", "unix"};
  r.number = 7;
  r.request.builder = "linux";
  r.request.branch = "main";
  r.request.revision = "abc1234def5678901234567890abcdef12345678";
  r.request.codebase = "app";
  r.request.reason = "forced by alice";
  r.request.owner = "alice";
  r.request.props = {{"deploy", "no"}, {"gerrit_change", "1234"}};
  r.blame = {"alice", "bob"};
  r.build_url = "http://ci.example.org/#/builders/linux/builds/7";
  r.builder_url = "http://ci.example.org/#/builders/linux";
  r.started_at = t0;
  if (kind == report_kind::finished) {
    r.outcome = outcome;
    r.previous = result::success;
    r.status_detected = status_detected(outcome, result::success);
    r.steps = {{1, "checkout", result::success, "", core::seconds(3)},
               {2, "compile", result::failure, "exit 2", core::seconds(62)}};
    if (!core::is_good(outcome)) r.failed_step = "compile";
    r.log_excerpt = "cc -c main.c\nmain.c:3: error: expected ';'";
    r.finished_at = t0 + 65s;
  } else {
    r.steps = {{1, "checkout", std::nullopt, "", std::nullopt}};
  }
  return r;
}

core::reporter_spec spec_of(reporter_type type) {
  core::reporter_spec s;
  s.name = "ci";
  s.type = type;
  return s;
}

struct captured {
  std::shared_ptr<std::ostringstream> out = std::make_shared<std::ostringstream>();
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>(
      "format-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(*out));
  std::string text() const { return out->str(); }
};

std::string with_body(reporter_type type, const std::string& tmpl, const report& r) {
  auto s = spec_of(type);
  s.body_template = tmpl;
  captured c;
  return formatter(s, c.log).body(r);
}

TEST(FormatterDefaults, SubjectOfAFinishedBuild) {
  formatter f(spec_of(reporter_type::mail), nullptr);
  EXPECT_EQ(f.subject(sample()), "[herald] linux #7 failure: new failure on main");
  EXPECT_EQ(f.subject(sample(report_kind::finished, result::success)), "[herald] linux #7 success: passing on main");
  EXPECT_EQ(f.subject(sample(report_kind::finished, result::warnings)), "[herald] linux #7 warnings on main");
}

TEST(FormatterDefaults, SubjectOfAStartedBuild) {
  formatter f(spec_of(reporter_type::mail), nullptr);
  EXPECT_EQ(f.subject(sample(report_kind::started)), "[herald] linux #7 started on main");
}

TEST(FormatterDefaults, SubjectWithoutTitleOrBranch) {
  formatter f(spec_of(reporter_type::mail), nullptr);
  auto r = sample();
  r.title.clear();
  r.request.branch.clear();
  EXPECT_EQ(f.subject(r), "linux #7 failure: new failure");
}

TEST(FormatterDefaults, ChatMessageIsOneToThreeLines) {
  formatter f(spec_of(reporter_type::slack), nullptr);
  EXPECT_EQ(f.body(sample()),
            "linux #7 failure (new failure) on main abc1234 \xE2\x80\x94 http://ci.example.org/#/builders/linux/builds/7\n"
            "failed step: compile (exit 2)");
  auto r = sample();
  r.text = "interrupted by restart";
  r.outcome = result::exception;
  r.status_detected = "exception";
  r.failed_step.clear();
  EXPECT_EQ(f.body(r),
            "linux #7 exception on main abc1234 \xE2\x80\x94 http://ci.example.org/#/builders/linux/builds/7\n"
            "interrupted by restart");
}

TEST(FormatterDefaults, ChatMessageOfAStartedBuild) {
  formatter f(spec_of(reporter_type::matrix), nullptr);
  auto r = sample(report_kind::started);
  r.request.revision.clear();
  r.build_url.clear();
  EXPECT_EQ(f.body(r), "linux #7 started on main");
  r.request.revision = "0123456789";
  EXPECT_EQ(f.body(r), "linux #7 started on main 0123456");
}

TEST(FormatterDefaults, StatusDescriptionIsOneLine) {
  formatter f(spec_of(reporter_type::github), nullptr);
  EXPECT_EQ(f.body(sample()), "linux #7 failed (new failure) in step compile");
  EXPECT_EQ(f.body(sample(report_kind::finished, result::success)), "linux #7 completed successfully (passing)");
  EXPECT_EQ(f.body(sample(report_kind::started)), "linux #7 started");
}

TEST(FormatterDefaults, MailBodyHasTheFacts) {
  formatter f(spec_of(reporter_type::mail), nullptr);
  std::string b = f.body(sample());
  EXPECT_EQ(b.rfind("linux #7 failure: new failure on main\n\n", 0), 0u) << b;
  for (const char* line : {"Builder: linux\n", "Build: #7\n", "Result: failure (failed)\n", "Status: new failure\n",
                           "Previous: success\n", "Branch: main\n",
                           "Revision: abc1234def5678901234567890abcdef12345678\n", "Owner: alice\n",
                           "Reason: forced by alice\n", "Blame: alice, bob\n", "Started: 2024-05-01T12:00:00Z\n",
                           "Finished: 2024-05-01T12:01:05Z\n", "Duration: 1 min 5 s\n", "  1. checkout: success, 3 s\n",
                           "  2. compile: failure (exit 2), 1 min 2 s\n", "Failed step: compile\n",
                           "Log excerpt (compile):\n    cc -c main.c\n    main.c:3: error: expected ';'\n",
                           "Build: http://ci.example.org/#/builders/linux/builds/7"})
    EXPECT_NE(b.find(line), std::string::npos) << "missing " << line << " in\n" << b;
  EXPECT_EQ(b.find('\r'), std::string::npos);
}

TEST(FormatterDefaults, PayloadIsAJsonDocumentWithTheFacts) {
  formatter f(spec_of(reporter_type::http), nullptr);
  auto j = json::parse(f.payload(sample()));
  EXPECT_EQ(j["event"], "build_finished");
  EXPECT_EQ(j["seq"], 42);
  EXPECT_EQ(j["subject"], "[herald] linux #7 failure: new failure on main");
  EXPECT_EQ(j["builder"], "linux");
  EXPECT_EQ(j["number"], 7);
  EXPECT_EQ(j["result"], "failure");
  EXPECT_EQ(j["result_text"], "failed");
  EXPECT_EQ(j["status_detected"], "new failure");
  EXPECT_EQ(j["previous_result"], "success");
  EXPECT_EQ(j["revision"], "abc1234def5678901234567890abcdef12345678");
  EXPECT_EQ(j["blame"], json::array({"alice", "bob"}));
  EXPECT_EQ(j["properties"]["deploy"], "no");
  EXPECT_EQ(j["steps"][1]["name"], "compile");
  EXPECT_EQ(j["steps"][1]["result"], "failure");
  EXPECT_EQ(j["steps"][1]["duration_seconds"], 62);
  EXPECT_EQ(j["failed_step"], "compile");
  EXPECT_EQ(j["started"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(j["finished"], "2024-05-01T12:01:05Z");
  EXPECT_EQ(j["duration_seconds"], 65);

  auto s = json::parse(f.payload(sample(report_kind::started)));
  EXPECT_EQ(s["event"], "build_started");
  EXPECT_TRUE(s["result"].is_null());
  EXPECT_TRUE(s["finished"].is_null());
}

// The default payload is written without building a document first; it must
// be exactly what nlohmann's dump() makes of it (receivers may sign or compare
// the bytes), whatever the text holds.
TEST(FormatterDefaults, PayloadIsInTheCanonicalDumpForm) {
  formatter f(spec_of(reporter_type::http), nullptr);
  auto canonical = [](const std::string& text) {
    return json::parse(text).dump(-1, ' ', false, json::error_handler_t::replace);
  };
  auto r = sample();
  for (const auto& p : {f.payload(r), f.payload(sample(report_kind::started))}) EXPECT_EQ(p, canonical(p));

  r.text = "quote \" backslash \\ tab \t nl \n cr \r bs \b ff \f nul "s + '\0' + " esc \x1b del \x7f /";
  r.request.reason = "caf\xC3\xA9 \xE2\x80\x94 emoji \xF0\x9F\x98\x80";
  r.request.owner = "bad \xC3 utf8 \xFF\xFE";
  r.request.props = {{"we\"ird\nkey", "v\\al"}, {"k\xC3\xA9", "\x01"}};
  r.tags.clear();
  r.blame.clear();
  r.steps.push_back({3, "no outcome", std::nullopt, "", std::nullopt});
  r.previous.reset();
  r.seq = 18446744073709551615ull;
  r.number = -3;
  auto p = f.payload(r);
  EXPECT_EQ(p, canonical(p));
  auto j = json::parse(p);
  EXPECT_EQ(j["text"], r.text);
  EXPECT_EQ(j["reason"], r.request.reason);
  EXPECT_EQ(j["owner"], "bad \xEF\xBF\xBD utf8 \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(j["properties"]["we\"ird\nkey"], "v\\al");
  EXPECT_EQ(j["properties"]["k\xC3\xA9"], "\x01");
  EXPECT_EQ(j["tags"], json::array());
  EXPECT_EQ(j["blame"], json::array());
  EXPECT_TRUE(j["previous_result"].is_null());
  EXPECT_TRUE(j["steps"][2]["result"].is_null());
  EXPECT_TRUE(j["steps"][2]["duration_seconds"].is_null());
  EXPECT_EQ(j["seq"], 18446744073709551615ull);
  EXPECT_EQ(j["number"], -3);
  r.request.props.clear();
  r.steps.clear();
  p = f.payload(r);
  EXPECT_EQ(p, canonical(p));
  EXPECT_EQ(json::parse(p)["properties"], json::object());
  EXPECT_EQ(json::parse(p)["steps"], json::array());
}

// Text is scanned eight bytes at a time: a character to escape, or one past
// ASCII, is found wherever it sits in (or after) such a block.
TEST(FormatterDefaults, PayloadEscapesAtEveryPosition) {
  formatter f(spec_of(reporter_type::http), nullptr);
  auto r = sample();
  for (const std::string special : {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", " ", "~", "\xC3\xA9", "\xFF"}) {
    for (std::size_t at = 0; at <= 20; ++at) {
      r.text = std::string(at, 'a') + special + std::string(20 - at, 'b');
      const auto p = f.payload(r);
      const auto j = json::parse(p);
      EXPECT_EQ(p, j.dump(-1, ' ', false, json::error_handler_t::replace)) << at;
      if (special != "\xFF") {  // an invalid byte is replaced
        EXPECT_EQ(j["text"], r.text) << at;
      }
    }
  }
}

TEST(FormatterDefaults, PayloadPropertyNamesAreUniqueAndInOrderOnceMadeValid) {
  formatter f(spec_of(reporter_type::http), nullptr);
  auto r = sample();
  // Latin-1 names from a chat client: both become "caf\uFFFD". A lone lead
  // byte sorts before "é" as bytes, and after it as U+FFFD.
  r.request.props = {{"caf\xE9", "1"}, {"caf\xE8", "2"}, {"\xC3", "3"}, {"\xC3\xA9", "4"}, {"plain", "5"}};
  const auto p = f.payload(r);
  const auto j = json::parse(p);
  EXPECT_EQ(p, j.dump(-1, ' ', false, json::error_handler_t::replace));
  const auto& props = j["properties"];
  EXPECT_EQ(props.size(), 4u);
  EXPECT_EQ(props["caf\xEF\xBF\xBD"], "2");  // of the two, the first in byte order ("caf\xE8")
  EXPECT_EQ(props["\xEF\xBF\xBD"], "3");
  EXPECT_EQ(props["\xC3\xA9"], "4");
  EXPECT_EQ(props["plain"], "5");
}

TEST(FormatterContext, ScalarNames) {
  std::string out = with_body(reporter_type::mail,
                              "{{title}}|{{builder}}|{{number}}|{{result}}|{{result_text}}|{{status_detected}}|"
                              "{{previous_result}}|{{branch}}|{{revision}}|{{short_revision}}|{{codebase}}|{{reason}}|"
                              "{{owner}}|{{blame_text}}|{{tags_text}}|{{failed_step}}|{{build_url}}|{{builder_url}}|"
                              "{{started}}|{{finished}}|{{duration}}|{{log_excerpt}}",
                              sample());
  EXPECT_EQ(out,
            "herald|linux|7|failure|failed|new failure|success|main|abc1234def5678901234567890abcdef12345678|abc1234|"
            "app|forced by alice|alice|alice, bob|fast, unix|compile|http://ci.example.org/#/builders/linux/builds/7|"
            "http://ci.example.org/#/builders/linux|2024-05-01T12:00:00Z|2024-05-01T12:01:05Z|1 min 5 s|"
            "cc -c main.c\nmain.c:3: error: expected ';'");
}

TEST(FormatterContext, TimesAreUtcInIso8601) {
  auto r = sample();
  r.started_at = core::clock::from_time_t(946684799);   // the last second of 1999
  r.finished_at = core::clock::from_time_t(2147483648) + 999ms;  // past 32-bit time; no rounding up
  EXPECT_EQ(with_body(reporter_type::mail, "{{started}}|{{finished}}", r), "1999-12-31T23:59:59Z|2038-01-19T03:14:08Z");
  EXPECT_EQ(json::parse(formatter(spec_of(reporter_type::http), nullptr).payload(r))["finished"], "2038-01-19T03:14:08Z");
}

TEST(FormatterContext, Lists) {
  EXPECT_EQ(with_body(reporter_type::mail,
                      "{{#steps}}{{index}}.{{name}}={{result}}({{text}},{{duration}});{{/steps}}", sample()),
            "1.checkout=success(,3 s);2.compile=failure(exit 2,1 min 2 s);");
  EXPECT_EQ(with_body(reporter_type::mail, "{{#properties}}{{name}}={{value}},{{/properties}}", sample()),
            "deploy=no,gerrit_change=1234,");
  EXPECT_EQ(with_body(reporter_type::mail, "{{#blame}}[{{.}}]{{/blame}}{{#tags}}<{{.}}>{{/tags}}", sample()),
            "[alice][bob]<fast><unix>");
}

TEST(FormatterContext, Booleans) {
  const char* tmpl =
      "{{#is_started}}S{{/is_started}}{{#is_finished}}F{{/is_finished}}"
      "{{#success}}ok{{/success}}{{#warnings}}warn{{/warnings}}{{#failure}}fail{{/failure}}"
      "{{#skipped}}skip{{/skipped}}{{#exception}}exc{{/exception}}{{#retry}}retry{{/retry}}"
      "{{#cancelled}}cancel{{/cancelled}}";
  EXPECT_EQ(with_body(reporter_type::mail, tmpl, sample()), "Ffail");
  EXPECT_EQ(with_body(reporter_type::mail, tmpl, sample(report_kind::finished, result::cancelled)), "Fcancel");
  EXPECT_EQ(with_body(reporter_type::mail, tmpl, sample(report_kind::finished, result::retry)), "Fretry");
  EXPECT_EQ(with_body(reporter_type::mail, tmpl, sample(report_kind::started)), "S");
  EXPECT_EQ(with_body(reporter_type::mail, "{{result}} {{result_text}}", sample(report_kind::started)),
            "started started");
}

TEST(FormatterContext, DurationsAreHuman) {
  auto r = sample();
  r.finished_at = *r.started_at + 2h + 3min + 4s;
  r.steps[0].duration = core::seconds(45);
  r.steps[1].duration = core::seconds(3 * 86400 + 5 * 3600);
  EXPECT_EQ(with_body(reporter_type::mail, "{{duration}}|{{#steps}}{{duration}};{{/steps}}", r),
            "2 h 3 min|45 s;3 d 5 h;");
  r.finished_at = *r.started_at + 120s;
  EXPECT_EQ(with_body(reporter_type::mail, "{{duration}}", r), "2 min");
}

TEST(FormatterEscaping, PlainTextIsNotHtmlEscaped) {
  auto r = sample();
  r.request.owner = "<alice & bob>";
  r.request.reason = "it's \"quoted\"";
  EXPECT_EQ(with_body(reporter_type::mail, "{{owner}} {{reason}}", r), "<alice & bob> it's \"quoted\"");
  auto s = spec_of(reporter_type::mail);
  s.subject_template = "{{owner}}: {{reason}}";
  EXPECT_EQ(formatter(s, nullptr).subject(r), "<alice & bob>: it's \"quoted\"");
  EXPECT_EQ(formatter(spec_of(reporter_type::github), nullptr).render("{{owner}}", r, "x"), "<alice & bob>");
}

TEST(FormatterEscaping, SlackControlCharactersAreEscapedInValuesOnly) {
  auto r = sample();
  r.request.reason = "<!channel> & <http://x|y>";
  EXPECT_EQ(with_body(reporter_type::slack, "*{{reason}}* <{{build_url}}|build>", r),
            "*&lt;!channel&gt; &amp; &lt;http://x|y&gt;* <http://ci.example.org/#/builders/linux/builds/7|build>");
  EXPECT_EQ(with_body(reporter_type::slack, "{{{reason}}}", r), "<!channel> & <http://x|y>");
}

TEST(FormatterEscaping, MentionsAreDefusedWhereTextCanNotify) {
  auto r = sample();
  r.request.reason = "@all please, @**all**, mail bob@example.org, see http://x/@me";
  std::string defused =
      "@\xE2\x80\x8B" "all please, @\xE2\x80\x8B**all**, mail bob@example.org, see http://x/@me";
  EXPECT_EQ(with_body(reporter_type::mattermost, "{{reason}}", r), defused);
  EXPECT_EQ(with_body(reporter_type::zulip, "{{reason}}", r), defused);
  EXPECT_EQ(with_body(reporter_type::telegram, "{{reason}}", r), defused);
  // Discord and Matrix switch mentions off in the request instead; mail is plain text.
  EXPECT_EQ(with_body(reporter_type::discord, "{{reason}}", r), r.request.reason);
  EXPECT_EQ(with_body(reporter_type::mail, "{{reason}}", r), r.request.reason);
}

TEST(FormatterEscaping, PayloadTemplateEscapesValuesAsJsonStrings) {
  auto s = spec_of(reporter_type::http);
  s.payload_template = R"({"reason": "{{reason}}", "number": {{number}}, "ok": {{#success}}true{{/success}}{{^success}}false{{/success}}})";
  auto r = sample();
  r.request.reason = "say \"hi\"\\ now\nand\ttab <b>";
  captured c;
  auto j = json::parse(formatter(s, c.log).payload(r));
  EXPECT_EQ(j, json({{"reason", r.request.reason}, {"number", 7}, {"ok", false}}));
  EXPECT_EQ(c.text(), "");
}

TEST(FormatterFallback, PayloadThatIsNotJsonFallsBackToTheDefault) {
  auto s = spec_of(reporter_type::http);
  s.payload_template = R"({"reason": {{{reason}}}})";  // unquoted: not JSON
  captured c;
  auto j = json::parse(formatter(s, c.log).payload(sample()));
  EXPECT_EQ(j["event"], "build_finished");
  EXPECT_NE(c.text().find("reporter ci: template payload failed: not valid JSON"), std::string::npos) << c.text();
  EXPECT_NE(c.text().find("using the default"), std::string::npos);
}

TEST(FormatterFallback, TemplateThatDoesNotParseIsLoggedOnceAndReplaced) {
  auto s = spec_of(reporter_type::mail);
  s.body_template = "{{#steps}}unclosed";
  s.subject_template = "{{oops";
  captured c;
  formatter f(s, c.log);
  EXPECT_NE(c.text().find("reporter ci: template body failed"), std::string::npos) << c.text();
  EXPECT_NE(c.text().find("reporter ci: template subject failed"), std::string::npos) << c.text();
  auto logged = c.text().size();
  EXPECT_EQ(f.subject(sample()), "[herald] linux #7 failure: new failure on main");
  EXPECT_EQ(f.body(sample()).rfind("linux #7 failure: new failure on main\n", 0), 0u);
  EXPECT_EQ(c.text().size(), logged);  // parsed once, in the constructor
}

TEST(FormatterFallback, PartialsAreRefused) {
  auto s = spec_of(reporter_type::slack);
  s.body_template = "x{{> reason}}y";
  auto r = sample();
  r.request.reason = "{{owner}}";
  captured c;
  std::string b = formatter(s, c.log).body(r);
  EXPECT_EQ(b.rfind("linux #7 failure (new failure)", 0), 0u) << b;
  EXPECT_NE(c.text().find("partials are not supported"), std::string::npos) << c.text();
}

TEST(FormatterFallback, RenderFallsBackOnABrokenInlineTemplate) {
  captured c;
  formatter f(spec_of(reporter_type::github), c.log);
  EXPECT_EQ(f.render("{{#builder}", sample(), "herald/linux"), "herald/linux");
  EXPECT_NE(c.text().find("template inline failed"), std::string::npos);
  EXPECT_EQ(f.render("", sample(), "fallback\nline"), "fallback line");
  EXPECT_EQ(f.render("ci/{{builder}}/{{branch}}", sample(), "x"), "ci/linux/main");
}

TEST(FormatterHygiene, SubjectAndRenderAreOneLine) {
  auto r = sample();
  r.request.reason = "a\r\nb\nc\0d\x01" "e\x1b[31mred\x1b[0m\tf"s;
  auto s = spec_of(reporter_type::mail);
  s.subject_template = "{{reason}}";
  formatter f(s, nullptr);
  EXPECT_EQ(f.subject(r), "a b c d ered f");
  EXPECT_EQ(f.render("[{{reason}}]", r, "x"), "[a b c d ered f]");
}

TEST(FormatterHygiene, PlainTextKeepsItsInsideAndLosesItsBlankEnds) {
  auto r = sample();
  formatter f(spec_of(reporter_type::mail), nullptr);
  EXPECT_EQ(f.render("  {{builder}}  two  spaces ", r, "x"), "linux  two  spaces");
  EXPECT_EQ(f.render("   ", r, "x"), "");
  EXPECT_EQ(with_body(reporter_type::mail, "  {{builder}}\n\n\tindented\n \t\n", r), "  linux\n\n\tindented");
}

// Small templates of plain tags (status contexts, topics) skip the mustache
// engine; "{{ name }}" (spaces) still goes through it, so the two must agree.
TEST(FormatterContext, PlainTagsRenderAsTheEngineDoes) {
  formatter f(spec_of(reporter_type::github), nullptr);
  for (auto r : {sample(), sample(report_kind::started)}) {
    r.request.reason = "a & <b> \"c\" {{builder}}";
    for (std::string name : {"title", "builder", "number", "result", "result_text", "text", "status_detected",
                             "previous_result", "branch", "revision", "short_revision", "codebase", "reason", "owner",
                             "blame_text", "tags_text", "failed_step", "log_excerpt", "build_url", "builder_url",
                             "started", "finished", "duration", "is_finished", "failure", "no_such_name"}) {
      auto plain = f.render("x/{{" + name + "}}|{{{" + name + "}}}", r, "fallback");
      auto engine = f.render("x/{{ " + name + " }}|{{{ " + name + " }}}", r, "fallback");
      EXPECT_EQ(plain, engine) << name;
    }
    EXPECT_EQ(f.render("herald/{{builder}}", r, "x"), "herald/linux");
    EXPECT_EQ(f.render("{{builder", r, "fallback"), "fallback");  // does not parse
    EXPECT_EQ(f.render("{{{builder}}", r, "fallback"), "fallback");
  }
}

TEST(FormatterHygiene, BodyHasLineFeedsButNoCarriageReturnsOrNuls) {
  auto r = sample();
  r.request.reason = "one\r\ntwo\rthree\0four\x1b[1mbold\x1b[0m"s;
  std::string b = with_body(reporter_type::mail, "{{reason}}\r\n", r);
  EXPECT_EQ(b, "one\ntwo\nthreefourbold");
}

TEST(FormatterHygiene, InvalidUtf8IsReplaced) {
  auto r = sample();
  r.request.reason = "ok \xC3\xA9 bad \xFF\xC0\xAF end";
  EXPECT_EQ(with_body(reporter_type::mail, "{{reason}}", r),
            "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
  auto s = spec_of(reporter_type::http);
  s.payload_template = R"({"r": "{{reason}}"})";
  auto j = json::parse(formatter(s, nullptr).payload(r));
  EXPECT_EQ(j["r"], "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
  formatter d(spec_of(reporter_type::http), nullptr);
  EXPECT_NO_THROW(json::parse(d.payload(r)));
}

TEST(FormatterHygiene, OutsideTextIsNeverAFormatString) {
  auto r = sample();
  r.builder = "{} {:>99999} %s %n";
  r.request.reason = "{{builder}}";
  captured c;
  auto s = spec_of(reporter_type::mail);
  s.body_template = "{{reason}}|{{builder}}";
  EXPECT_EQ(formatter(s, c.log).body(r), "{{builder}}|{} {:>99999} %s %n");
  EXPECT_EQ(formatter(spec_of(reporter_type::mail), c.log).subject(r), "[herald] {} {:>99999} %s %n #7 failure: new failure on main");
}

TEST(FormatterMove, MovedFormatterStillRenders) {
  formatter a(spec_of(reporter_type::mail), nullptr);
  formatter b(std::move(a));
  formatter c(spec_of(reporter_type::slack), nullptr);
  c = std::move(b);
  EXPECT_EQ(c.subject(sample(report_kind::started)), "[herald] linux #7 started on main");
}

}  // namespace
}  // namespace herald::notifiers
