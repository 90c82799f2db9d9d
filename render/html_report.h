// The report as one self-contained HTML page (no external files or
// network): the passes run with their statistics, timings and node/Q/DQ
// census, every analysis section (op-count comparison, qdq-boundaries,
// bias-overflow, quant-lint, the fuse-qdq summary), the findings, and the
// before/after drawings inline as SVG, pannable (drag) and zoomable (wheel).
#pragma once

#include <string>

#include "pass/report.h"

namespace qopt {

struct HtmlDrawings {
  std::string before_svg;  // Graphviz SVG of the model before the pipeline, or empty
  std::string after_svg;   // ... after it
};

std::string ReportToHtml(const Report& report, const HtmlDrawings& drawings);

}  // namespace qopt
