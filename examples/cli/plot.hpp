#pragma once
// A small SVG line chart writer: panels stacked top to bottom, each with axes, ticks, a grid
// and a legend, readable in any browser.
#include <string>
#include <vector>

namespace recur_cli {

struct Line {
    std::string label;
    std::string color;  // any SVG colour
    std::vector<double> x, y;
    bool dashed = false;
};

struct Panel {
    std::string title, x_label, y_label;
    std::vector<Line> lines;
    bool integer_x = false;  // x ticks at whole numbers only (epochs)
    bool log_y_if_wide = false;  // a log y axis when positive values span a decade or more
};

std::string svg_figure(const std::string& title, const std::vector<Panel>& panels);

}  // namespace recur_cli
