#include "render/html_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace qopt {
namespace {

std::string Html(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// Graphviz's SVG starts with an XML prolog and a DOCTYPE, which HTML does
// not want inline: keep from <svg on.
std::string InlineSvg(const std::string& svg) {
  const size_t start = svg.find("<svg");
  return start == std::string::npos ? "" : svg.substr(start);
}

std::string CensusCell(const nlohmann::json& census, const char* key) {
  if (!census.is_object() || !census.contains(key)) return "";
  return absl::StrCat(census[key].get<int64_t>());
}

constexpr const char* kStyle = R"(
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; }
pre { background: #f8f8f8; padding: 10px; font-size: 12px; overflow-x: auto; }
.graphs { display: flex; gap: 16px; }
.graph { flex: 1; border: 1px solid #ccc; height: 640px; overflow: hidden; position: relative; background: #fff; }
.graph h3 { position: absolute; margin: 4px 8px; font-size: 13px; background: rgba(255,255,255,0.8); z-index: 1; }
.graph svg { cursor: grab; }
.error { color: #b00; } .warning { color: #a60; } .info { color: #555; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border-radius: 4px; font-size: 12px; }
)";

// Drag to pan, wheel to zoom, on each drawing; marks the page ready so that a
// headless browser test can tell the script ran.
constexpr const char* kScript = R"(
document.querySelectorAll('.graph svg').forEach(function (svg) {
  var view = svg.viewBox.baseVal;
  var box = { x: view.x, y: view.y, w: view.width, h: view.height };
  svg.removeAttribute('width'); svg.removeAttribute('height');
  svg.style.width = '100%'; svg.style.height = '100%';
  function apply() { svg.setAttribute('viewBox', box.x + ' ' + box.y + ' ' + box.w + ' ' + box.h); }
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    var k = e.deltaY > 0 ? 1.2 : 1 / 1.2;
    var r = svg.getBoundingClientRect();
    var px = box.x + (e.clientX - r.left) / r.width * box.w, py = box.y + (e.clientY - r.top) / r.height * box.h;
    box.x = px - (px - box.x) * k; box.y = py - (py - box.y) * k; box.w *= k; box.h *= k; apply();
  });
  var drag = null;
  svg.addEventListener('mousedown', function (e) { drag = { x: e.clientX, y: e.clientY }; });
  window.addEventListener('mouseup', function () { drag = null; });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    var r = svg.getBoundingClientRect();
    box.x -= (e.clientX - drag.x) / r.width * box.w; box.y -= (e.clientY - drag.y) / r.height * box.h;
    drag = { x: e.clientX, y: e.clientY }; apply();
  });
});
document.body.setAttribute('data-ready', 'yes');
)";

}  // namespace

std::string ReportToHtml(const Report& report, const HtmlDrawings& drawings) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>qopt report</title><style>";
  absl::StrAppend(&out, kStyle, "</style></head><body>\n<h1>qopt report</h1>\n<p>Input: <code>",
                  Html(report.input()), "</code>", report.output().empty() ? "" : " &rarr; output: <code>",
                  Html(report.output()), report.output().empty() ? "" : "</code>", "</p>\n");

  absl::StrAppend(&out, "<h2 id=\"passes\">Passes</h2>\n<table><tr><th>pass</th><th>options</th><th>changed</th>"
                        "<th>ms</th><th>nodes</th><th>Q</th><th>DQ</th><th>statistics</th></tr>\n");
  for (const PassRun& run : report.passes()) {
    std::string stats;
    for (const auto& [name, value] : run.statistics.items()) {
      if (value.is_number() && value.get<double>() == 0) continue;
      absl::StrAppend(&stats, Html(name), "=", Html(value.dump()), " ");
    }
    auto delta = [&](const char* key) {
      const std::string before = CensusCell(run.census_before, key), after = CensusCell(run.census_after, key);
      return before == after ? before : absl::StrCat(before, " &rarr; ", after);
    };
    absl::StrAppend(&out, "<tr><td>", Html(run.name), "</td><td>", Html(run.options.dump()), "</td><td>",
                    run.changed ? "yes" : "no", "</td><td>", absl::StrFormat("%.2f", run.seconds * 1000), "</td><td>",
                    delta("nodes"), "</td><td>", delta("quantize"), "</td><td>", delta("dequantize"), "</td><td>",
                    stats, "</td></tr>\n");
  }
  absl::StrAppend(&out, "</table>\n");

  absl::StrAppend(&out, "<h2 id=\"analyses\">Analyses</h2>\n");
  for (const Report::Section& s : report.analyses()) {
    absl::StrAppend(&out, "<h3 id=\"analysis-", Html(s.name), "\">", Html(s.name), "</h3>\n<pre>", Html(s.text),
                    "</pre>\n");
  }

  absl::StrAppend(&out, "<h2 id=\"findings\">Findings</h2>\n");
  if (report.findings().empty()) {
    absl::StrAppend(&out, "<p>None.</p>\n");
  } else {
    absl::StrAppend(&out, "<table><tr><th>severity</th><th>pass</th><th>subject</th><th>message</th></tr>\n");
    for (const Finding& f : report.findings()) {
      const std::string severity(SeverityName(f.severity));
      absl::StrAppend(&out, "<tr class=\"", severity, "\"><td>", severity, "</td><td>", Html(f.pass), "</td><td>",
                      Html(f.subject), "</td><td>", Html(f.message), "</td></tr>\n");
    }
    absl::StrAppend(&out, "</table>\n");
  }

  absl::StrAppend(&out, "<h2 id=\"graphs\">Graphs</h2>\n<p class=\"legend\">"
                        "<span style=\"background:#b6d7a8\">integer</span><span style=\"background:#cfe2f3\">float"
                        "</span><span style=\"background:#f6b26b\">Q/DQ, casts</span> Drag to pan, wheel to zoom; "
                        "dashed boxes are QDQ node units.</p>\n<div class=\"graphs\">\n");
  for (const auto& [title, svg] : {std::pair<const char*, const std::string*>{"before", &drawings.before_svg},
                                   std::pair<const char*, const std::string*>{"after", &drawings.after_svg}}) {
    if (svg->empty()) continue;
    absl::StrAppend(&out, "<div class=\"graph\" id=\"graph-", title, "\"><h3>", title, "</h3>\n", InlineSvg(*svg),
                    "</div>\n");
  }
  absl::StrAppend(&out, "</div>\n<script>", kScript, "</script>\n</body></html>\n");
  return out;
}

}  // namespace qopt
