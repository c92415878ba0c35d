#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string_view>

namespace recur_cli {

namespace {

constexpr double kWidth = 960, kTitleHeight = 36, kPanelHeight = 380;
constexpr double kLeft = 80, kRight = 24, kTop = 44, kBottom = 56;  // plot area inside a panel

std::string fmt(const char* format, double value) {
    char buf[48];
    std::snprintf(buf, sizeof buf, format, value);
    return buf;
}
std::string coord(double value) { return fmt("%.1f", value); }

std::string escape(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '&') out += "&amp;";
        else if (c == '<') out += "&lt;";
        else if (c == '>') out += "&gt;";
        else if (c == '"') out += "&quot;";
        else out += c;
    }
    return out;
}

// An axis maps values to [0, 1]; a log axis works in log10 units, lo and hi included.
struct Axis {
    double lo = 0, hi = 1;
    bool log = false;
    std::vector<double> ticks;
    double fraction(double v) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo); }
};

// Ticks at 1, 2 or 5 times a power of ten, about six of them, with the range widened to
// whole ticks so that the data never touches the frame between two labels.
Axis linear_axis(double min, double max, bool integer) {
    if (!(max > min)) {
        const double pad = min == 0 ? 1 : std::abs(min) * 0.1;
        min -= pad;
        max += pad;
    }
    const double raw = (max - min) / 6;
    const double magnitude = std::pow(10, std::floor(std::log10(raw)));
    double step = 10 * magnitude;
    for (double m : {1.0, 2.0, 5.0})
        if (m * magnitude >= raw) { step = m * magnitude; break; }
    if (integer) step = std::max(step, 1.0);
    Axis axis{std::floor(min / step) * step, std::ceil(max / step) * step, false, {}};
    for (double k = std::round(axis.lo / step); k * step <= axis.hi + step * 1e-9; ++k)
        axis.ticks.push_back(std::abs(k) < 0.5 ? 0.0 : k * step);  // no "-0" label
    return axis;
}

// Whole decades; with few of them, 2 and 5 times each as well.
Axis log_axis(double min, double max) {
    Axis axis{std::floor(std::log10(min)), std::ceil(std::log10(max)), true, {}};
    if (axis.hi == axis.lo) axis.hi += 1;
    for (double e = axis.lo; e <= axis.hi; ++e) {
        axis.ticks.push_back(std::pow(10, e));
        if (axis.hi - axis.lo <= 2 && e < axis.hi)
            for (double m : {2.0, 5.0}) axis.ticks.push_back(m * std::pow(10, e));
    }
    return axis;
}

void draw_panel(std::ostringstream& svg, const Panel& panel, double top) {
    double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
    for (const Line& line : panel.lines)
        for (std::size_t i = 0; i < line.x.size(); ++i) {
            if (!std::isfinite(line.x[i]) || !std::isfinite(line.y[i])) continue;
            x_min = std::min(x_min, line.x[i]), x_max = std::max(x_max, line.x[i]);
            y_min = std::min(y_min, line.y[i]), y_max = std::max(y_max, line.y[i]);
        }
    if (!std::isfinite(x_min)) return;  // nothing to draw
    const bool log = panel.log_y_if_wide && y_min > 0 && y_max / y_min >= 10;
    const Axis ax = linear_axis(x_min, x_max, panel.integer_x);
    const Axis ay = log ? log_axis(y_min, y_max) : linear_axis(y_min, y_max, false);

    const double x0 = kLeft, x1 = kWidth - kRight, y0 = top + kTop, y1 = top + kPanelHeight - kBottom;
    const auto px = [&](double v) { return x0 + ax.fraction(v) * (x1 - x0); };
    const auto py = [&](double v) { return y1 - ay.fraction(v) * (y1 - y0); };

    svg << "<text x=\"" << x0 << "\" y=\"" << coord(top + 28) << "\" font-size=\"15\" font-weight=\"bold\">"
        << escape(panel.title) << "</text>\n";
    // Legend in the header row, right-aligned, so it never hides data.
    double lx = x1;
    for (auto it = panel.lines.rbegin(); it != panel.lines.rend(); ++it) {
        if (it->x.empty()) continue;
        lx -= 40 + 7.5 * static_cast<double>(it->label.size()) + 16;
        svg << "<line x1=\"" << coord(lx) << "\" y1=\"" << coord(top + 23) << "\" x2=\"" << coord(lx + 32)
            << "\" y2=\"" << coord(top + 23) << "\" stroke=\"" << it->color << "\" stroke-width=\"2.5\""
            << (it->dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n"
            << "<text x=\"" << coord(lx + 38) << "\" y=\"" << coord(top + 27) << "\">" << escape(it->label)
            << "</text>\n";
    }

    // Grid and ticks, then the frame over them.
    for (double t : ax.ticks) {
        const std::string x = coord(px(t));
        svg << "<line x1=\"" << x << "\" y1=\"" << coord(y0) << "\" x2=\"" << x << "\" y2=\"" << coord(y1 + 5)
            << "\" stroke=\"#ddd\"/>\n<text x=\"" << x << "\" y=\"" << coord(y1 + 20)
            << "\" text-anchor=\"middle\">" << fmt("%g", t) << "</text>\n";
    }
    for (double t : ay.ticks) {
        const std::string y = coord(py(t));
        svg << "<line x1=\"" << coord(x0 - 5) << "\" y1=\"" << y << "\" x2=\"" << coord(x1) << "\" y2=\"" << y
            << "\" stroke=\"#ddd\"/>\n<text x=\"" << coord(x0 - 8) << "\" y=\"" << coord(py(t) + 4)
            << "\" text-anchor=\"end\">" << fmt("%g", t) << "</text>\n";
    }
    svg << "<rect x=\"" << x0 << "\" y=\"" << coord(y0) << "\" width=\"" << coord(x1 - x0) << "\" height=\""
        << coord(y1 - y0) << "\" fill=\"none\" stroke=\"#333\"/>\n";
    svg << "<text x=\"" << coord((x0 + x1) / 2) << "\" y=\"" << coord(y1 + 44) << "\" text-anchor=\"middle\">"
        << escape(panel.x_label) << "</text>\n";
    svg << "<text transform=\"translate(18 " << coord((y0 + y1) / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
        << escape(panel.y_label + (log ? " (log scale)" : "")) << "</text>\n";

    for (const Line& line : panel.lines) {
        std::string points;
        std::size_t count = 0;
        for (std::size_t i = 0; i < line.x.size(); ++i) {
            if (!std::isfinite(line.x[i]) || !std::isfinite(line.y[i])) continue;
            points += coord(px(line.x[i])) + "," + coord(py(line.y[i])) + " ";
            ++count;
        }
        if (count == 0) continue;
        svg << "<polyline fill=\"none\" stroke=\"" << line.color << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
            << (line.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"" << points << "\"/>\n";
        // A few points are easier to read as dots (and one point is invisible as a line).
        if (count <= 40)
            for (std::size_t i = 0; i < line.x.size(); ++i)
                if (std::isfinite(line.x[i]) && std::isfinite(line.y[i]))
                    svg << "<circle cx=\"" << coord(px(line.x[i])) << "\" cy=\"" << coord(py(line.y[i]))
                        << "\" r=\"2.5\" fill=\"" << line.color << "\"/>\n";
    }
}

}  // namespace

std::string svg_figure(const std::string& title, const std::vector<Panel>& panels) {
    const double height = kTitleHeight + kPanelHeight * static_cast<double>(panels.size());
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << height
        << "\" viewBox=\"0 0 " << kWidth << ' ' << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << kWidth / 2 << "\" y=\"26\" text-anchor=\"middle\" font-size=\"17\">" << escape(title)
        << "</text>\n";
    for (std::size_t i = 0; i < panels.size(); ++i)
        draw_panel(svg, panels[i], kTitleHeight + kPanelHeight * static_cast<double>(i));
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace recur_cli
